// Webhooks: POSTs chosen events as JSON to each configured URL, signed with
// `X-Parley-Signature: sha256=<hex HMAC of the body>`, retried with exponential
// back-off (base, 2×base, 4×base…) until a 2xx or the attempts run out. Every
// retry timer lives in `timers` and is cleared by close().
import { createHmac, randomUUID } from 'node:crypto';
import type { WebhookConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import type { ApiEvent } from './event-hub.ts';

const DEFAULT_EVENTS = ['recording.saved', 'call.ended'];
const REQUEST_TIMEOUT_MS = 5000;

export function sign(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

export class WebhookSender {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly hooks: WebhookConfig[],
    private readonly attempts: number,
    private readonly retryBaseMs: number,
    private readonly log: Logger,
  ) {}

  handle(event: ApiEvent): void {
    if (this.closed) return;
    for (const hook of this.hooks) {
      if (!(hook.events ?? DEFAULT_EVENTS).includes(event.type)) continue;
      const body = JSON.stringify(event);
      const delivery = randomUUID();
      this.attempt(hook, event, body, delivery, 1);
    }
  }

  /** Stops retrying and aborts requests in flight. Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
  }

  private attempt(hook: WebhookConfig, event: ApiEvent, body: string, delivery: string, n: number): void {
    this.post(hook, event, body, delivery, n).then(
      (status) => {
        if (status >= 200 && status < 300) {
          this.log.debug({ url: hook.url, event: event.type, attempt: n }, 'webhook delivered');
          return;
        }
        this.retry(hook, event, body, delivery, n, `status ${status}`);
      },
      (err: unknown) => this.retry(hook, event, body, delivery, n, (err as Error).message),
    );
  }

  private retry(hook: WebhookConfig, event: ApiEvent, body: string, delivery: string, n: number, why: string): void {
    if (this.closed) return;
    if (n >= this.attempts) {
      this.log.warn({ url: hook.url, event: event.type, attempts: n, why }, 'webhook given up');
      return;
    }
    const delay = this.retryBaseMs * 2 ** (n - 1);
    this.log.info({ url: hook.url, event: event.type, attempt: n, why, retryInMs: delay }, 'webhook failed; retrying');
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.attempt(hook, event, body, delivery, n + 1);
    }, delay);
    this.timers.add(t);
  }

  private async post(hook: WebhookConfig, event: ApiEvent, body: string, delivery: string, n: number): Promise<number> {
    const ctl = new AbortController();
    this.inFlight.add(ctl);
    const timer = setTimeout(() => ctl.abort(), REQUEST_TIMEOUT_MS);
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'parley-webhook',
          'X-Parley-Event': event.type,
          'X-Parley-Delivery': delivery,
          'X-Parley-Attempt': String(n),
          'X-Parley-Signature': sign(hook.secret, body),
        },
        body,
        signal: ctl.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status;
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(ctl);
    }
  }
}

// Webhooks: POSTs chosen events as JSON to each configured URL, signed with
// `X-Parley-Signature: sha256=<hex HMAC of the body>`, retried with exponential
// back-off (base, 2×base, 4×base…) until a 2xx or the attempts run out. Every
// retry timer lives in `timers` and is cleared by close(). Deliveries still
// pending at close() (waiting for a retry or in flight) are written to a spool
// file, and the next start sends them again with the same delivery id: a
// restart does not lose a recording.saved.
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { WebhookConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import type { ApiEvent } from './event-hub.ts';

const DEFAULT_EVENTS = ['recording.saved', 'call.ended'];
const REQUEST_TIMEOUT_MS = 5000;

export function sign(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** A delivery not yet done, as spooled: the hook is found again by its URL. */
interface Pending {
  url: string;
  event: ApiEvent;
  delivery: string;
  /** The attempt to make next. */
  attempt: number;
}

export class WebhookSender {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  /** By delivery id, until delivered or given up. */
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  constructor(
    private readonly hooks: WebhookConfig[],
    private readonly attempts: number,
    private readonly retryBaseMs: number,
    private readonly log: Logger,
    /** Where pending deliveries are kept across a restart; null keeps none. */
    private readonly spoolFile: string | null = null,
  ) {}

  /** Sends again what the previous run left in the spool file (then removes it). Returns how many. */
  resumeSpool(): number {
    if (!this.spoolFile || !existsSync(this.spoolFile)) return 0;
    let entries: Pending[];
    try {
      entries = JSON.parse(readFileSync(this.spoolFile, 'utf8')) as Pending[];
      if (!Array.isArray(entries)) throw new Error('not a list');
    } catch (err) {
      this.log.error({ err, file: this.spoolFile }, 'webhook spool unreadable; left in place');
      return 0;
    }
    rmSync(this.spoolFile, { force: true });
    let resumed = 0;
    for (const p of entries) {
      const hook = this.hooks.find((h) => h.url === p.url);
      if (!hook) {
        this.log.warn({ url: p.url, event: p.event?.type }, 'spooled webhook for a URL no longer configured; dropped');
        continue;
      }
      this.attempt(hook, p.event, JSON.stringify(p.event), p.delivery, Math.max(1, p.attempt));
      resumed++;
    }
    if (resumed > 0) this.log.info({ resumed }, 'webhook deliveries resumed from the spool');
    return resumed;
  }

  handle(event: ApiEvent): void {
    if (this.closed) return;
    for (const hook of this.hooks) {
      if (!(hook.events ?? DEFAULT_EVENTS).includes(event.type)) continue;
      const body = JSON.stringify(event);
      const delivery = randomUUID();
      this.attempt(hook, event, body, delivery, 1);
    }
  }

  /** Deliveries not yet done (waiting for a retry or in flight). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Stops retrying, aborts requests in flight and spools what is pending. Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
    this.writeSpool();
  }

  private writeSpool(): void {
    if (!this.spoolFile || this.pending.size === 0) return;
    const entries = [...this.pending.values()];
    try {
      mkdirSync(dirname(this.spoolFile), { recursive: true });
      const tmp = `${this.spoolFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(entries));
      renameSync(tmp, this.spoolFile);
      this.log.info({ pending: entries.length, file: this.spoolFile }, 'pending webhook deliveries spooled for the next start');
    } catch (err) {
      this.log.error({ err, file: this.spoolFile, pending: entries.length }, 'webhook spool not written; pending deliveries lost');
    }
  }

  private attempt(hook: WebhookConfig, event: ApiEvent, body: string, delivery: string, n: number): void {
    this.pending.set(delivery, { url: hook.url, event, delivery, attempt: n });
    this.post(hook, event, body, delivery, n).then(
      (status) => {
        if (status >= 200 && status < 300) {
          this.pending.delete(delivery);
          this.log.debug({ url: hook.url, event: event.type, attempt: n }, 'webhook delivered');
          return;
        }
        this.retry(hook, event, body, delivery, n, `status ${status}`);
      },
      (err: unknown) => this.retry(hook, event, body, delivery, n, (err as Error).message),
    );
  }

  private retry(hook: WebhookConfig, event: ApiEvent, body: string, delivery: string, n: number, why: string): void {
    if (this.closed) return; // still pending: spooled by close() for this attempt again
    if (n >= this.attempts) {
      this.pending.delete(delivery);
      this.log.warn({ url: hook.url, event: event.type, attempts: n, why }, 'webhook given up');
      return;
    }
    this.pending.set(delivery, { url: hook.url, event, delivery, attempt: n + 1 });
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

// Webhooks: POSTs chosen events as JSON to each configured URL, signed with
// `X-Parley-Signature: sha256=<hex HMAC of the body>`. A delivery that fails is
// retried with exponential back-off (base, 2×base, 4×base…, capped at
// retryMaxMs, each delay ±20 % so that many deliveries do not retry in step)
// until a 2xx, for as long as the retry window (api.webhookMaxRetryHours,
// counted from the first attempt) lasts; then it goes to the dead letter, from
// where the API lists and replays it. A receiver down for hours loses nothing.
// Every delivery not yet done is journaled in the spool (webhook-spool.ts) as it
// changes, so a stop or a crash loses none: the next start sends them again with
// the same delivery id. Writes are asynchronous; no file call in the event path.
// At most MAX_IN_FLIGHT requests per URL at once: a receiver coming back (or a
// start with a long spool) is not hit by thousands of requests in one go.
import { createHmac, randomUUID } from 'node:crypto';
import type { WebhookConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import type { ApiEvent } from './event-hub.ts';
import { WebhookDeadLetter, type DeadLetter } from './webhook-dead-letter.ts';
import { WebhookSpool, type Delivery } from './webhook-spool.ts';

const DEFAULT_EVENTS = ['recording.saved', 'recording.stored', 'call.ended'];
const REQUEST_TIMEOUT_MS = 5000;
const MAX_IN_FLIGHT = 8;
const JITTER = 0.2;

export function sign(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

export interface WebhookSenderOptions {
  hooks: WebhookConfig[];
  /** Attempts per delivery, the first included; 0: no limit (the retry window decides). */
  attempts: number;
  retryBaseMs: number;
  /** The longest back-off between two attempts. */
  retryMaxMs: number;
  /** How long a delivery is retried, from its first attempt, before it goes to the dead letter. */
  retryWindowMs: number;
  /** Where deliveries not yet done are journaled; null keeps none across a restart. */
  spoolFile: string | null;
  /** Where deliveries given up are kept; null drops them (logged). */
  deadLetterFile: string | null;
}

export interface ReplayResult {
  /** Back in the queue, same delivery id. */
  replayed: string[];
  /** Asked for but not in the dead letter. */
  notFound: string[];
  /** In the dead letter for a URL no longer configured: left there. */
  notConfigured: string[];
}

export class WebhookSender {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  /** By delivery id, until delivered or dead. */
  private readonly pending = new Map<string, Delivery>();
  /** Per URL: requests in flight, and deliveries due but waiting for a free slot. */
  private readonly lanes = new Map<string, { active: number; waiting: Delivery[] }>();
  private readonly spool: WebhookSpool | null;
  readonly deadLetter: WebhookDeadLetter | null;
  /** Deliveries journaled elsewhere (a cluster's Redis stream), by id: not in the spool; called once when settled. */
  private readonly external = new Map<string, () => void>();
  private closed = false;

  constructor(
    private readonly opts: WebhookSenderOptions,
    private readonly log: Logger,
  ) {
    this.spool = opts.spoolFile ? new WebhookSpool(opts.spoolFile, log) : null;
    this.deadLetter = opts.deadLetterFile ? new WebhookDeadLetter(opts.deadLetterFile) : null;
  }

  /** Sends again what a previous run left in the spool (same delivery ids). Returns how many. */
  async resumeSpool(): Promise<number> {
    if (!this.spool) return 0;
    let found: Delivery[];
    try {
      found = await this.spool.load();
    } catch (err) {
      this.log.error({ err, file: this.spool.path }, 'webhook spool unreadable; left in place');
      return 0;
    }
    let resumed = 0;
    for (const d of found) {
      if (this.closed) break;
      this.pending.set(d.delivery, d);
      if (!this.hook(d.url)) {
        // Not dropped: an operator may configure the URL again and replay it.
        this.toDeadLetter(d, 'the webhook URL is no longer configured', d.attempt - 1);
        continue;
      }
      this.dispatch(d);
      resumed++;
    }
    if (resumed > 0) this.log.info({ resumed }, 'webhook deliveries resumed from the spool');
    return resumed;
  }

  /**
   * Sends an event to every hook that wants it. `journaled`: the event is kept
   * elsewhere until `settled` (a cluster's Redis stream, src/cluster/): its
   * deliveries get ids `<id>.<hook index>` (the same when another node sends it
   * again), stay out of the spool, and `settled` is called once every one of
   * them was delivered or dead-lettered (at once when no hook wants it).
   */
  handle(event: ApiEvent, journaled?: { id: string; settled: () => void }): void {
    if (this.closed) return;
    const ds: Delivery[] = [];
    this.opts.hooks.forEach((hook, i) => {
      if (!(hook.events ?? DEFAULT_EVENTS).includes(event.type)) return;
      ds.push({ delivery: journaled ? `${journaled.id}.${i}` : randomUUID(), url: hook.url, event, attempt: 1, firstAttemptAt: Date.now() });
    });
    if (journaled) {
      let left = ds.length;
      if (left === 0) journaled.settled();
      const one = (): void => {
        if (--left === 0) journaled.settled();
      };
      for (const d of ds) this.external.set(d.delivery, one);
    }
    for (const d of ds) {
      this.pending.set(d.delivery, d);
      if (!journaled) this.spool?.add(d);
      this.dispatch(d);
    }
  }

  /** The spool of a delivery: none for those journaled elsewhere. */
  private spoolOf(d: Delivery): WebhookSpool | null {
    return this.external.has(d.delivery) ? null : this.spool;
  }

  /** A delivery journaled elsewhere is over (delivered or in the dead letter). */
  private settle(d: Delivery): void {
    const cb = this.external.get(d.delivery);
    if (!cb) return;
    this.external.delete(d.delivery);
    cb();
  }

  /** Whether any hook wants events of this type. */
  wants(type: ApiEvent['type']): boolean {
    return this.opts.hooks.some((h) => (h.events ?? DEFAULT_EVENTS).includes(type));
  }

  /** Deliveries not yet done (waiting for a retry, for a slot, or in flight). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Moves dead-letter entries (all, or those with these delivery ids) back to the queue, same delivery id, a new retry window. */
  async replay(ids: string[] | null): Promise<ReplayResult> {
    if (!this.deadLetter || this.closed) return { replayed: [], notFound: ids ?? [], notConfigured: [] };
    const wanted = ids ? new Set(ids) : null;
    const seen = new Set<string>();
    const notConfigured: string[] = [];
    const taken = await this.deadLetter.remove((e) => {
      if (wanted && !wanted.has(e.delivery)) return false;
      seen.add(e.delivery);
      if (this.hook(e.url)) return true;
      notConfigured.push(e.delivery);
      return false;
    });
    for (const e of taken) {
      const d: Delivery = { delivery: e.delivery, url: e.url, event: e.event, attempt: Math.max(1, e.attempts + 1), firstAttemptAt: Date.now() };
      this.pending.set(d.delivery, d);
      this.spool?.add(d);
      this.dispatch(d);
    }
    if (taken.length > 0) this.log.info({ replayed: taken.length }, 'webhook dead letters replayed');
    return { replayed: taken.map((e) => e.delivery), notFound: ids ? ids.filter((id) => !seen.has(id)) : [], notConfigured };
  }

  /** Stops retrying and aborts requests in flight (they stay in the spool for the next start). Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
    this.lanes.clear();
    this.spool?.flush();
    if (this.spool && this.pending.size > 0) this.log.info({ pending: this.pending.size, file: this.spool.path }, 'pending webhook deliveries kept in the spool for the next start');
  }

  /**
   * Whether a request is in flight, or its outcome not yet booked (deliveries waiting to
   * retry do not count). A clean stop waits while it is, so that a delivery the receiver
   * took is not left unsettled (in a cluster, a survivor would send it again).
   */
  busy(): boolean {
    for (const lane of this.lanes.values()) if (lane.active > 0) return true;
    return false;
  }

  /** Resolves once the spool and the dead letter have everything written so far on disk. */
  async settled(): Promise<void> {
    // The dead letter first: an entry written there is then marked done in the spool.
    await this.deadLetter?.settled();
    this.spool?.flush();
    await this.spool?.settled();
  }

  private hook(url: string): WebhookConfig | undefined {
    return this.opts.hooks.find((h) => h.url === url);
  }

  /** Sends now if the URL has a free slot, else queues it for the next one. */
  private dispatch(d: Delivery): void {
    if (this.closed) return;
    let lane = this.lanes.get(d.url);
    if (!lane) this.lanes.set(d.url, (lane = { active: 0, waiting: [] }));
    if (lane.active >= MAX_IN_FLIGHT) {
      lane.waiting.push(d);
      return;
    }
    lane.active++;
    const hook = this.hook(d.url);
    const sent = hook ? this.post(hook, d) : Promise.reject(new Error('the webhook URL is no longer configured'));
    sent
      .then(
        (status) => (status >= 200 && status < 300 ? this.delivered(d) : this.failed(d, `status ${status}`)),
        (err: unknown) => this.failed(d, (err as Error).message),
      )
      .finally(() => {
        lane.active--;
        const next = lane.waiting.shift();
        if (next) this.dispatch(next);
      })
      .catch((err: unknown) => this.log.error({ err, delivery: d.delivery }, 'webhook bookkeeping failed'));
  }

  private delivered(d: Delivery): void {
    this.pending.delete(d.delivery);
    this.spoolOf(d)?.done(d.delivery);
    this.settle(d);
    this.log.debug({ url: d.url, event: d.event.type, attempt: d.attempt, delivery: d.delivery }, 'webhook delivered');
  }

  private failed(d: Delivery, why: string): void {
    if (this.closed) return; // still pending: in the spool, tried again at the next start
    const n = d.attempt;
    const now = Date.now();
    const deadline = d.firstAttemptAt + this.opts.retryWindowMs;
    if ((this.opts.attempts > 0 && n >= this.opts.attempts) || now >= deadline) {
      this.toDeadLetter(d, why, n);
      return;
    }
    d.attempt = n + 1;
    this.spoolOf(d)?.tried(d.delivery, d.attempt);
    const backoff = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.min(n - 1, 40));
    const jittered = backoff * (1 - JITTER + 2 * JITTER * Math.random());
    // The last attempt is made when the window closes, not after it.
    const delay = Math.max(0, Math.min(Math.round(jittered), deadline - now));
    this.log.info({ url: d.url, event: d.event.type, attempt: n, why, retryInMs: delay, delivery: d.delivery }, 'webhook failed; retrying');
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.dispatch(d);
    }, delay);
    this.timers.add(t);
  }

  private toDeadLetter(d: Delivery, why: string, attempts: number): void {
    this.pending.delete(d.delivery);
    const entry: DeadLetter = {
      delivery: d.delivery,
      url: d.url,
      event: d.event,
      attempts,
      firstAttemptAt: new Date(d.firstAttemptAt).toISOString(),
      deadAt: new Date().toISOString(),
      lastError: why,
    };
    const fields = { url: d.url, event: d.event.type, delivery: d.delivery, attempts, why };
    const spool = this.spoolOf(d);
    if (!this.deadLetter) {
      spool?.done(d.delivery);
      this.settle(d);
      this.log.error(fields, 'webhook given up and dropped (no api.webhookDeadLetterFile)');
      return;
    }
    // Out of the spool only once it is in the dead letter: a crash in between sends it again rather than losing it.
    this.deadLetter.add(entry).then(
      () => {
        spool?.done(d.delivery);
        this.settle(d);
      },
      (err: unknown) => this.log.error({ err, ...fields, file: this.deadLetter?.path }, 'webhook dead letter not written; the delivery stays in the spool'),
    );
    this.log.warn({ ...fields, file: this.deadLetter.path }, 'webhook given up; kept in the dead letter');
  }

  private async post(hook: WebhookConfig, d: Delivery): Promise<number> {
    const ctl = new AbortController();
    this.inFlight.add(ctl);
    const timer = setTimeout(() => ctl.abort(), REQUEST_TIMEOUT_MS);
    const body = JSON.stringify(d.event);
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'parley-webhook',
          'X-Parley-Event': d.event.type,
          'X-Parley-Delivery': d.delivery,
          'X-Parley-Attempt': String(d.attempt),
          'X-Parley-Signature': sign(hook.secret, body),
        },
        body,
        // A redirect is the receiver's answer, not a second receiver to send the event to.
        redirect: 'manual',
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

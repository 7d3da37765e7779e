// Who may start a call, and how many: the upstream address list of the default
// routing endpoint (403 for others), a cap on concurrent calls and a per-source
// call rate (503 with Retry-After), and the drain state (503 while shutting down).
import { compileSource, type Matcher } from '../policy/pattern.ts';

export interface AdmissionConfig {
  /** Addresses or CIDRs allowed to send INVITEs to flows; empty: anyone. */
  upstreams: string[];
  /** Concurrent calls; 0: no limit. */
  maxCalls: number;
  /** New calls per second from one source address; 0: no limit. */
  maxCallRatePerSource: number;
}

export type AdmissionVerdict =
  | { ok: true }
  | { ok: false; status: 403 | 503; reason: string; retryAfter?: number };

/** An admitted call holds its place until release() (idempotent) on whatever ends it. */
export type AdmissionTicket = { ok: true; release: () => void } | Exclude<AdmissionVerdict, { ok: true }>;

interface Bucket {
  tokens: number;
  at: number;
}

export class Admission {
  private readonly upstreams: Matcher[];
  private readonly buckets = new Map<string, Bucket>();
  private draining = false;
  private inUse = 0;

  constructor(
    private readonly config: AdmissionConfig,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.upstreams = config.upstreams.map(compileSource);
  }

  /** From now on every new call is refused with 503 (SIGTERM drain). */
  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Whether `source` is one of the configured upstreams (false when none are configured). */
  isUpstream(source: string | undefined): boolean {
    return !!source && this.upstreams.some((m) => m(source));
  }

  /** Calls admitted and not released yet (being set up or running). */
  get admitted(): number {
    return this.inUse;
  }

  /**
   * check() against the calls admitted so far, and on success counts this call in at
   * once, before any asynchronous setup: a burst of INVITEs cannot overshoot maxCalls
   * while earlier calls are still being created. The caller releases the place when
   * the call is refused later or ends.
   */
  /** `exemptFromDrain`: a join to a room this cluster node owns, taken while it drains. */
  admit(source: string | undefined, authenticated = false, exemptFromDrain = false): AdmissionTicket {
    const verdict = this.check(source, this.inUse, authenticated, exemptFromDrain);
    if (!verdict.ok) return verdict;
    this.inUse++;
    let held = true;
    return {
      ok: true,
      release: () => {
        if (!held) return;
        held = false;
        this.inUse--;
      },
    };
  }

  /** `authenticated`: the caller passed digest authentication, so the upstream list does not apply. */
  check(source: string | undefined, activeCalls: number, authenticated = false, exemptFromDrain = false): AdmissionVerdict {
    if (this.draining && !exemptFromDrain) return { ok: false, status: 503, reason: 'Shutting Down', retryAfter: 30 };
    if (!authenticated && this.upstreams.length > 0 && !this.isUpstream(source)) {
      return { ok: false, status: 403, reason: 'Not An Upstream' };
    }
    if (this.config.maxCalls > 0 && activeCalls >= this.config.maxCalls) {
      return { ok: false, status: 503, reason: 'Too Many Calls', retryAfter: 5 };
    }
    if (this.config.maxCallRatePerSource > 0 && source && !this.take(source)) {
      return { ok: false, status: 503, reason: 'Call Rate Exceeded', retryAfter: 1 };
    }
    return { ok: true };
  }

  /** A token bucket per source: `maxCallRatePerSource` per second, bursts of the same size. */
  private take(source: string): boolean {
    const rate = this.config.maxCallRatePerSource;
    const t = this.now();
    const b = this.buckets.get(source) ?? { tokens: rate, at: t };
    b.tokens = Math.min(rate, b.tokens + ((t - b.at) / 1000) * rate);
    b.at = t;
    this.buckets.set(source, b);
    if (this.buckets.size > 10_000) this.forgetIdle(t);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Keeps the bucket map bounded: sources whose bucket is full again carry no state. */
  private forgetIdle(t: number): void {
    const rate = this.config.maxCallRatePerSource;
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * rate >= rate) this.buckets.delete(k);
  }
}

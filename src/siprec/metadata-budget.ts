// How much recording metadata Parley parses, per SIPREC session and per source
// address (siprec.metadataBudget): a 64 KiB document costs tens of ms of the main
// thread, and nothing else limits how often an SRC sends one (INVITE, re-INVITE,
// UPDATE). Two token buckets of bytes, one per session and one per source address; a
// document is charged its size, at least MIN_CHARGE (a flood of tiny documents is
// bounded too), and only when it would be parsed (one over siprec.maxMetadataBytes is
// not). A document is taken only when both buckets hold its charge.
import { TokenBucket } from '../util/token-bucket.ts';

export interface MetadataBudgetConfig {
  sessionBytesPerSecond: number;
  sessionBurstBytes: number;
  sourceBytesPerSecond: number;
  sourceBurstBytes: number;
}

export const defaultMetadataBudget: MetadataBudgetConfig = {
  sessionBytesPerSecond: 32768,
  sessionBurstBytes: 262144,
  sourceBytesPerSecond: 524288,
  sourceBurstBytes: 2097152,
};

/** What one document counts at least: parsing has a cost of its own, whatever the size. */
export const MIN_CHARGE = 1024;
/** Source buckets kept before the full ones (which carry no state) are forgotten. */
const MAX_SOURCES = 4096;

export interface OverBudget {
  scope: 'session' | 'source';
  /** The config key whose bucket is empty. */
  key: string;
  /** Seconds until the document would fit (Retry-After), at least 1. */
  retryAfterSec: number;
}

export class MetadataBudget {
  private readonly sources = new Map<string, TokenBucket>();
  /** Documents refused or left unparsed, by the bucket that was empty (metrics). */
  readonly overBudget = { session: 0, source: 0 };

  constructor(
    readonly config: MetadataBudgetConfig = defaultMetadataBudget,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A new session's own bucket (full). */
  sessionBucket(): TokenBucket {
    return new TokenBucket(this.config.sessionBytesPerSecond, this.config.sessionBurstBytes, this.now());
  }

  /** What `bytes` of metadata cost to parse: at least MIN_CHARGE, nothing past `maxBytes` (not parsed). */
  static charge(bytes: number, maxBytes: number): number {
    return bytes > maxBytes ? 0 : Math.max(MIN_CHARGE, bytes);
  }

  /** Takes `charge` from both buckets, or neither: null when taken, else which one is empty. */
  take(session: TokenBucket, source: string | undefined, charge: number): OverBudget | null {
    if (charge <= 0) return null;
    const t = this.now();
    const src = this.sourceBucket(source ?? '', t);
    const sessionWait = session.waitMs(charge, t);
    const sourceWait = src.waitMs(charge, t);
    if (sessionWait === 0 && sourceWait === 0) {
      session.take(charge, t);
      src.take(charge, t);
      return null;
    }
    const scope = sessionWait >= sourceWait ? 'session' : 'source';
    this.overBudget[scope]++;
    return {
      scope,
      key: scope === 'session' ? 'siprec.metadataBudget.sessionBytesPerSecond' : 'siprec.metadataBudget.sourceBytesPerSecond',
      retryAfterSec: Math.max(1, Math.ceil(Math.max(sessionWait, sourceWait) / 1000)),
    };
  }

  private sourceBucket(source: string, t: number): TokenBucket {
    let b = this.sources.get(source);
    if (!b) {
      if (this.sources.size >= MAX_SOURCES) for (const [k, old] of this.sources) if (old.isFull(t)) this.sources.delete(k);
      b = new TokenBucket(this.config.sourceBytesPerSecond, this.config.sourceBurstBytes, t);
      this.sources.set(source, b);
    }
    return b;
  }
}

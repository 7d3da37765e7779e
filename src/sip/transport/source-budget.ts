// Per-source budget of SIP input (sip.sourceBytesPerSecond, sip.sourceCpuMsPerSecond): two
// token buckets per packet source address (never a Via's), one of bytes, one of main-thread
// time spent on that source's messages (framing, parsing, the core). A message is charged
// after it was handled, so a bucket may go below zero; the source is over budget until both
// buckets are back at zero or above. The transports consult it before they read on: UDP
// datagrams from a source over budget are dropped before parsing, TCP/TLS connections from it
// stop being read until it refills (udp-transport.ts, tcp-transport.ts).
import { TokenBucket } from '../../util/token-bucket.ts';

/** Every message costs at least this many bytes of budget, so tiny messages cannot be sent for free. */
export const MIN_CHARGE_BYTES = 1024;
/**
 * Every line of a message costs at least this many bytes: parsing (here and again in the
 * drachtio-srf app, which gets the message as text) costs by header, not by byte, and a
 * 60 KB OPTIONS of 10,000 four-byte headers took ~12 ms of the main thread where a 60 KB
 * body takes well under one.
 */
export const LINE_CHARGE_BYTES = 64;

/** What a message costs in bytes of budget: its size, at least 64 bytes a line and 1 KB in all. */
export function chargeOf(data: Buffer): number {
  let lines = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 10) lines++;
  return Math.max(MIN_CHARGE_BYTES, data.length, lines * LINE_CHARGE_BYTES);
}
/** Idle sources whose buckets are full are forgotten this often. */
const SWEEP_MS = 10_000;

export interface SourceBudgetConfig {
  /** Bytes per second and per source; 0: no byte budget. */
  bytesPerSecond: number;
  /** The byte bucket's depth (a burst a source may send at once). */
  burstBytes: number;
  /** Milliseconds of main-thread time per second and per source; 0: no time budget. The bucket holds one second's worth. */
  cpuMsPerSecond: number;
  /** How long a TCP/TLS connection may stay paused without a break before it is closed. */
  maxPausedMs: number;
}

/** A source's two buckets (util/token-bucket.ts): bytes, and milliseconds of main-thread time. */
interface Bucket {
  bytes: TokenBucket;
  cpuMs: TokenBucket;
}

export interface SourceBudgetCounts {
  /** UDP datagrams dropped unparsed because their source was over budget. */
  udpDropped: number;
  /** Times a TCP/TLS connection was paused because its source was over budget. */
  streamPauses: number;
  /** TCP/TLS connections closed after staying paused past maxPausedMs. */
  streamClosed: number;
}

export class SourceBudget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: NodeJS.Timeout | null;
  readonly counts: SourceBudgetCounts = { udpDropped: 0, streamPauses: 0, streamClosed: 0 };
  readonly enabled: boolean;

  constructor(
    readonly cfg: SourceBudgetConfig,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.enabled = cfg.bytesPerSecond > 0 || cfg.cpuMsPerSecond > 0;
    this.sweeper = this.enabled ? setInterval(() => this.sweep(), SWEEP_MS) : null;
    this.sweeper?.unref();
  }

  private bucketOf(address: string, t: number): Bucket {
    let b = this.buckets.get(address);
    if (!b) {
      b = { bytes: new TokenBucket(this.cfg.bytesPerSecond, this.cfg.burstBytes, t), cpuMs: new TokenBucket(this.cfg.cpuMsPerSecond, this.cfg.cpuMsPerSecond, t) };
      this.buckets.set(address, b);
    }
    return b;
  }

  /** Milliseconds until the source is within budget again; 0: it is now. */
  waitMs(address: string): number {
    if (!this.enabled) return 0;
    const t = this.now();
    const b = this.bucketOf(address, t);
    let wait = 0;
    if (this.cfg.bytesPerSecond > 0) wait = b.bytes.waitMs(0, t);
    if (this.cfg.cpuMsPerSecond > 0) wait = Math.max(wait, b.cpuMs.waitMs(0, t));
    return wait;
  }

  /** Charges one message (`bytes`: its chargeOf, or 0 for a keep-alive, which costs MIN_CHARGE_BYTES) and the main-thread time it took. */
  charge(address: string, bytes: number, cpuMs: number): void {
    if (!this.enabled) return;
    const t = this.now();
    const b = this.bucketOf(address, t);
    if (this.cfg.bytesPerSecond > 0) b.bytes.take(Math.max(MIN_CHARGE_BYTES, bytes), t);
    if (this.cfg.cpuMsPerSecond > 0) b.cpuMs.take(cpuMs, t);
  }

  /** Sources currently known (a bucket not yet refilled to full). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [address, b] of this.buckets) if (b.bytes.isFull(t) && b.cpuMs.isFull(t)) this.buckets.delete(address);
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.buckets.clear();
  }
}

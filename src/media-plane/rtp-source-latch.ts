// Which source a leg's RTP may come from (symmetric RTP, RFC 4961): the
// address the peer's SDP gives ('strict'), or the first valid packet's source
// ('latch', 'once'). 'latch' lets go after a re-offer with a new address or
// after RELATCH_AFTER_MS of silence from the latched source (NAT rebinding,
// media handover); 'once' keeps its first source for the leg's life.
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../util/logger.ts';

export type LatchMode = 'latch' | 'once' | 'strict';

/** A latched source silent this long may be replaced by a new one ('latch' mode). */
const RELATCH_AFTER_MS = 2000;
/** At most one 'ignored source' log line per this interval. */
const LOG_EVERY_MS = 5000;

export class RtpSourceLatch {
  /** The latched source, or null (not latched yet, or 'strict'). */
  ip: string | null = null;
  port = 0;
  /** The last address the peer's SDP gave (kept through a 0.0.0.0 hold): 'strict' accepts only it. */
  private sdpIp: string | null = null;
  private sdpPort = 0;
  private lastWrongLogMs = -Infinity;

  constructor(
    readonly mode: LatchMode,
    private readonly log: Logger,
  ) {}

  /** A negotiation gave the peer's address (null ip: 0.0.0.0 hold); `moved`: it differs from the last one. */
  signalled(ip: string | null, port: number, moved: boolean): void {
    if (ip !== null) {
      this.sdpIp = ip;
      this.sdpPort = port;
    }
    if (moved && this.mode !== 'once') {
      this.ip = null;
      this.port = 0;
    }
  }

  /** Whether a packet's source is the peer's; `lastRxMs` is when the peer's last valid packet came. Hot path. */
  accepts(rinfo: dgram.RemoteInfo, lastRxMs: number): boolean {
    if (this.mode === 'strict') return rinfo.address === this.sdpIp && rinfo.port === this.sdpPort;
    if (this.ip === null) return true;
    if (rinfo.address === this.ip && rinfo.port === this.port) return true;
    if (this.mode === 'latch' && performance.now() - lastRxMs > RELATCH_AFTER_MS) {
      this.log.info({ from: `${this.ip}:${this.port}`, to: `${rinfo.address}:${rinfo.port}` }, 'RTP source changed after silence: re-latched');
      this.ip = null;
      return true;
    }
    return false;
  }

  /** Whether the next valid packet's source should be latched. */
  get wantsLatch(): boolean {
    return this.ip === null && this.mode !== 'strict';
  }

  latch(rinfo: dgram.RemoteInfo): void {
    this.ip = rinfo.address;
    this.port = rinfo.port;
    this.log.debug({ source: `${rinfo.address}:${rinfo.port}` }, 'RTP latched');
  }

  /** Logs an ignored source, at most every LOG_EVERY_MS. */
  ignored(rinfo: dgram.RemoteInfo, dropped: number): void {
    const now = performance.now();
    if (now - this.lastWrongLogMs <= LOG_EVERY_MS) return;
    this.lastWrongLogMs = now;
    this.log.warn({ source: `${rinfo.address}:${rinfo.port}`, dropped }, 'RTP from an unexpected source ignored');
  }
}

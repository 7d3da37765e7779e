// Which source a leg's RTP may come from (symmetric RTP, RFC 4961): the
// address the peer's SDP gives ('strict'), or the first valid packet's source
// ('latch', 'once'). 'latch' lets go after a re-offer with a new address or
// after RELATCH_AFTER_MS of silence from the latched source (NAT rebinding,
// media handover); 'once' keeps its first source for the leg's life.
// A source other than the signalled address latches only after PROBATION_PACKETS
// packets in a row (a stray or late packet, e.g. a previous call's on a reused
// port, must not take the leg: it would also take where the leg sends), and in
// 'latch' mode the signalled address takes the leg back from another source it
// latched after the same probation, its packets in a row with none of the latched
// source's between (anyone can send from an address in the SDP:
// one packet from it took a leg latched to a peer behind NAT, whose packets were
// then refused for as long as one such packet came every 2 s). The
// packets a source sends while on probation are held, not lost: when it latches,
// the receiver plays them first (takeHeld), so a peer behind NAT loses nothing
// of its first 40 ms; a source that does not latch has its held packets dropped.
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../util/logger.ts';

export type LatchMode = 'latch' | 'once' | 'strict';

/** A latched source silent this long may be replaced by a new one ('latch' mode). */
const RELATCH_AFTER_MS = 2000;
/** At most one 'ignored source' log line per this interval. */
const LOG_EVERY_MS = 5000;
/** Packets in a row a source other than the signalled address must send before it is latched. */
export const PROBATION_PACKETS = 3;

export class RtpSourceLatch {
  /** The latched source, or null (not latched yet, or 'strict'). */
  ip: string | null = null;
  port = 0;
  /** The last address the peer's SDP gave (kept through a 0.0.0.0 hold): 'strict' accepts only it. */
  private sdpIp: string | null = null;
  private sdpPort = 0;
  private lastWrongLogMs = -Infinity;
  /** A source other than the signalled one on probation, and how many packets in a row it sent. */
  private candidateIp: string | null = null;
  private candidatePort = 0;
  private candidateCount = 0;
  /**
   * The candidate's packets so far (at most PROBATION_PACKETS - 1), copied: a packet read
   * in a batch (native-udp.ts) views a buffer the next batch overwrites.
   */
  private readonly held: Buffer[] = [];

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
      this.dropCandidate();
    }
  }

  /** Whether a packet's source is the peer's; `lastRxMs` is when the peer's last valid packet came. Hot path. */
  accepts(rinfo: dgram.RemoteInfo, lastRxMs: number): boolean {
    const address = rinfo.address;
    const port = rinfo.port;
    const fromSdp = address === this.sdpIp && port === this.sdpPort;
    if (this.mode === 'strict') return fromSdp;
    if (this.ip !== null) {
      if (address === this.ip && port === this.port) {
        // In a row: a packet of the latched source between breaks a candidate's run.
        if (this.candidateIp !== null) this.dropCandidate();
        return true;
      }
      if (this.mode !== 'latch') return false;
      if (fromSdp) {
        // The peer's own signalled address wins over a source learnt from packets, after its probation.
        if (!this.passes(address, port)) return false;
        this.log.info({ from: `${this.ip}:${this.port}`, to: `${address}:${port}` }, 'RTP from the signalled address: re-latched to it');
        this.ip = null;
        return true;
      }
      if (performance.now() - lastRxMs <= RELATCH_AFTER_MS) return false;
      this.log.info({ from: `${this.ip}:${this.port}`, to: `${address}:${port}` }, 'RTP source changed after silence: re-latching');
      this.ip = null;
      this.dropCandidate();
    }
    if (fromSdp) return true;
    // Another source (NAT, or a stray packet): only after PROBATION_PACKETS in a row.
    return this.passes(address, port);
  }

  /** Counts a packet of a source on probation: whether it has now sent PROBATION_PACKETS in a row. */
  private passes(address: string, port: number): boolean {
    if (address !== this.candidateIp || port !== this.candidatePort) {
      this.dropCandidate();
      this.candidateIp = address;
      this.candidatePort = port;
    }
    return ++this.candidateCount >= PROBATION_PACKETS;
  }

  /**
   * Whether `accepts` would refuse a packet from `rinfo` whatever it holds, without its side
   * effects: the leg is latched to another source that is not silent, or 'strict' and this is
   * not the signalled address. Hot path: for the latched source, two comparisons.
   */
  refuses(rinfo: dgram.RemoteInfo, lastRxMs: number): boolean {
    const address = rinfo.address;
    const port = rinfo.port;
    if (this.ip !== null && address === this.ip && port === this.port) return false;
    const fromSdp = address === this.sdpIp && port === this.sdpPort;
    if (this.mode === 'strict') return !fromSdp;
    if (this.ip === null) return false;
    if (this.mode !== 'latch') return true;
    return !fromSdp && performance.now() - lastRxMs <= RELATCH_AFTER_MS;
  }

  /** A packet `accepts` refused: held if its source is on probation, to be played if it latches. */
  hold(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.address !== this.candidateIp || rinfo.port !== this.candidatePort) return;
    if (this.held.length < PROBATION_PACKETS - 1) this.held.push(Buffer.from(buf));
  }

  /** The packets held for `rinfo`'s source, which just passed probation, oldest first (null: none). */
  takeHeld(rinfo: dgram.RemoteInfo): Buffer[] | null {
    if (this.held.length === 0 || rinfo.address !== this.candidateIp || rinfo.port !== this.candidatePort) return null;
    const out = this.held.slice();
    this.held.length = 0;
    return out;
  }

  /** Forgets the candidate; its held packets stay counted as from a wrong source. */
  private dropCandidate(): void {
    this.candidateIp = null;
    this.candidateCount = 0;
    this.held.length = 0;
  }

  /** Whether the next valid packet's source should be latched. */
  /** Whether `rinfo` is where the peer's RTP comes from now (the latched source; 'strict': the SDP address). No side effect. */
  isPeer(rinfo: dgram.RemoteInfo): boolean {
    if (this.mode === 'strict') return rinfo.address === this.sdpIp && rinfo.port === this.sdpPort;
    return rinfo.address === this.ip && rinfo.port === this.port;
  }

  get wantsLatch(): boolean {
    return this.ip === null && this.mode !== 'strict';
  }

  latch(rinfo: dgram.RemoteInfo): void {
    this.dropCandidate();
    this.ip = rinfo.address;
    this.port = rinfo.port;
    this.log.debug({ source: `${rinfo.address}:${rinfo.port}` }, 'RTP latched');
  }

  /** Logs an ignored source, at most every LOG_EVERY_MS. */
  ignored(rinfo: dgram.RemoteInfo, dropped: number): void {
    // A source still on probation (a peer behind NAT starting up) is not worth a warning yet.
    if (this.ip === null && rinfo.address === this.candidateIp && rinfo.port === this.candidatePort) return;
    const now = performance.now();
    if (now - this.lastWrongLogMs <= LOG_EVERY_MS) return;
    this.lastWrongLogMs = now;
    this.log.warn({ source: `${rinfo.address}:${rinfo.port}`, dropped }, 'RTP from an unexpected source ignored');
  }
}

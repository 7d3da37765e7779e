// RTCP of one leg (RFC 3550 §6): counts what we send and receive, builds our
// compound SR/RR + SDES (+ BYE), reads the peer's reports for loss, jitter and
// RTT. Pure logic: the RTP endpoint owns the socket and the timer, and passes
// performance.now() milliseconds as nowMs/arrivalMs.
import { HEADER_BYTES, isValidCompound, packetBytes, PT_RR, PT_SR, readU32, REPORT_BLOCK_BYTES } from './rtcp-packet.ts';
import { msToShortNtp, ntpFromUnixMs, ntpMiddle32, shortNtpToMs, wallClockOffsetMs, type NtpTimestamp } from './ntp-time.ts';
import { RtpReceiverStats } from './rtp-receiver-stats.ts';
import { BYE_BYTES, reportBytes, sdesBytes, writeBye, writeReport, writeSdesCname, type ReportBlock, type SenderInfo } from './rtcp-writer.ts';

export interface RtcpStats {
  // what we measured as receiver of the peer's RTP
  packetsReceived: number;
  packetsExpected: number;
  cumulativeLost: number;
  /** 0..1, of the interval closed by our last report. */
  fractionLost: number;
  jitterMs: number;
  // what we sent (over the whole leg, across SSRC changes)
  packetsSent: number;
  octetsSent: number;
  /** What the peer reported about our stream (its report block for our SSRC), null until one arrives. */
  remote: { fractionLost: number; cumulativeLost: number; jitterMs: number } | null;
  /** RFC 3550 §6.4.1 from LSR/DLSR. */
  rttMs: number | null;
  /** SR and RR packets read from the peer (one compound may hold several). */
  reportsReceived: number;
  /** Compound packets built (reports and BYEs). */
  reportsSent: number;
}

export interface RtcpSessionOptions {
  localSsrc: number;
  cname: string;
  /** RTP clock of the leg's codec (8000, 16000, 48000). */
  clockRate: number;
}

/** §6.2: minimum report interval; the first report may go after half of it. */
const MIN_INTERVAL_MS = 5000;

// Indexes of the sender state (a Float64Array: per-packet stores never allocate).
const TX_PACKETS = 0; // since the current SSRC started, for the SR
const TX_OCTETS = 1;
const TX_TOTAL_PACKETS = 2; // whole leg, for the stats
const TX_TOTAL_OCTETS = 3;
const TX_LAST_TS = 4;
const TX_LAST_MS = 5;
const TX_SINCE_REPORT = 6; // 1 when RTP went out since the last report
const TX_SIZE = 7;

function checkSsrc(ssrc: number): void {
  if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) throw new RangeError(`RTCP: SSRC must be a 32-bit unsigned integer, got ${ssrc}`);
}

function checkClockRate(rate: number): void {
  if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`RTCP: clock rate must be a positive integer, got ${rate}`);
}

export class RtcpSession {
  private localSsrc: number;
  private clockRate: number;
  private readonly cname: Buffer;
  private readonly wallOffsetMs = wallClockOffsetMs();
  private readonly rx = new RtpReceiverStats();
  private readonly tx = new Float64Array(TX_SIZE);
  // The peer's last SR (for our LSR/DLSR), kept with the SSRC that sent it.
  private srSsrc = -1;
  private srLsr = 0;
  private srArrivalMs = 0;
  private remote: RtcpStats['remote'] = null;
  private rttMs: number | null = null;
  private reportsReceived = 0;
  private reportsSent = 0;
  private intervals = 0;
  private readonly ntp: NtpTimestamp = { seconds: 0, fraction: 0 };

  constructor(opts: RtcpSessionOptions) {
    checkSsrc(opts.localSsrc);
    checkClockRate(opts.clockRate);
    const cname = Buffer.from(opts.cname, 'utf8');
    // §6.5.1: CNAME is required and its SDES item holds at most 255 octets.
    if (cname.length === 0 || cname.length > 255) throw new RangeError(`RTCP: CNAME must be 1..255 UTF-8 bytes, got ${cname.length}`);
    this.localSsrc = opts.localSsrc;
    this.clockRate = opts.clockRate;
    this.cname = cname;
  }

  /** Per received RTP packet: allocation-free (hot path). */
  onRtpReceived(ssrc: number, seq: number, rtpTimestamp: number, arrivalMs: number): void {
    this.rx.update(ssrc >>> 0, seq & 0xffff, rtpTimestamp >>> 0, (arrivalMs * this.clockRate) / 1000);
  }

  /** Per sent RTP packet: allocation-free. payloadBytes excludes header and padding (§6.4.1 octet count). */
  onRtpSent(payloadBytes: number, rtpTimestamp: number, nowMs: number): void {
    const tx = this.tx;
    tx[TX_PACKETS]++;
    tx[TX_OCTETS] += payloadBytes;
    tx[TX_TOTAL_PACKETS]++;
    tx[TX_TOTAL_OCTETS] += payloadBytes;
    tx[TX_LAST_TS] = rtpTimestamp >>> 0;
    tx[TX_LAST_MS] = nowMs;
    tx[TX_SINCE_REPORT] = 1;
  }

  /** A new local SSRC is a new stream (§8): its SR counts restart, and the peer's old report no longer applies. */
  setLocalSsrc(ssrc: number): void {
    checkSsrc(ssrc);
    if (ssrc === this.localSsrc) return;
    this.localSsrc = ssrc;
    this.tx[TX_PACKETS] = 0;
    this.tx[TX_OCTETS] = 0;
    this.remote = null;
  }

  setClockRate(rate: number): void {
    checkClockRate(rate);
    if (rate === this.clockRate) return;
    this.rx.rescaleClock(this.clockRate, rate);
    this.clockRate = rate;
  }

  /** Compound packet (§6.1): SR if we sent RTP since the last report, else RR; one block for the current remote SSRC if any; SDES CNAME. */
  buildReport(nowMs: number): Buffer {
    return this.build(nowMs, false);
  }

  /** Compound RR/SR + SDES + BYE (§6.6), for the end of the leg. */
  buildBye(nowMs: number): Buffer {
    return this.build(nowMs, true);
  }

  /**
   * Any compound RTCP packet from the peer. SR and RR are read; SDES, BYE, APP, XR
   * and unknown types are skipped. False, with nothing changed, for anything that
   * is not valid RTCP (see isValidCompound). Never throws.
   */
  handleRtcp(packet: Uint8Array, nowMs: number): boolean {
    if (!isValidCompound(packet)) return false;
    for (let off = 0; off < packet.length; off += packetBytes(packet, off)) {
      const pt = packet[off + 1];
      if (pt !== PT_SR && pt !== PT_RR) continue;
      this.reportsReceived++;
      let o = off + HEADER_BYTES;
      const sender = readU32(packet, o);
      o += 4;
      if (pt === PT_SR) {
        // §6.4.1: LSR is the middle 32 bits of the SR's NTP timestamp; DLSR counts from its arrival.
        this.srSsrc = sender;
        this.srLsr = ntpMiddle32(readU32(packet, o), readU32(packet, o + 4));
        this.srArrivalMs = nowMs;
        o += 20;
      }
      const count = packet[off] & 0x1f;
      for (let i = 0; i < count; i++, o += REPORT_BLOCK_BYTES) {
        if (readU32(packet, o) === this.localSsrc) this.onBlockAboutUs(packet, o, nowMs);
      }
      // Profile-specific extensions after the blocks (§6.4.1) are skipped with the packet.
    }
    return true;
  }

  get stats(): RtcpStats {
    const rx = this.rx;
    return {
      packetsReceived: rx.received,
      packetsExpected: rx.expected,
      cumulativeLost: rx.cumulativeLost,
      fractionLost: rx.lastFraction / 256,
      jitterMs: (rx.jitterUnits * 1000) / this.clockRate,
      packetsSent: this.tx[TX_TOTAL_PACKETS],
      octetsSent: this.tx[TX_TOTAL_OCTETS],
      remote: this.remote ? { ...this.remote } : null,
      rttMs: this.rttMs,
      reportsReceived: this.reportsReceived,
      reportsSent: this.reportsSent,
    };
  }

  /**
   * §6.2 for a two-party session at audio rates: the 5 s minimum dominates the
   * bandwidth-derived interval; the first report may go after half of it (§6.2
   * "initial"). Randomized by 0.5–1.5 (§6.3.1) so that legs started together do
   * not report in lockstep. No e−3/2 compensation: that belongs to timer
   * reconsideration, which a two-party leg does not run.
   */
  nextIntervalMs(): number {
    const base = this.intervals++ === 0 ? MIN_INTERVAL_MS / 2 : MIN_INTERVAL_MS;
    return base * (0.5 + Math.random());
  }

  private onBlockAboutUs(p: Uint8Array, o: number, nowMs: number): void {
    // Cumulative lost is a signed 24-bit field (§6.4.1).
    const lost24 = (p[o + 5] << 16) | (p[o + 6] << 8) | p[o + 7];
    this.remote = {
      fractionLost: p[o + 4] / 256,
      cumulativeLost: lost24 & 0x800000 ? lost24 - 0x1000000 : lost24,
      jitterMs: (readU32(p, o + 12) * 1000) / this.clockRate,
    };
    const lsr = readU32(p, o + 16);
    const dlsr = readU32(p, o + 20);
    // §6.4.1: no SR received yet by the peer → LSR 0, no RTT.
    if (lsr === 0) return;
    const now = this.ntpNow(nowMs);
    const a = ntpMiddle32(now.seconds, now.fraction);
    // Mod 2^32 arithmetic on the 16.16 values; a negative result means the block is
    // bogus (or about an SR we never sent) and is not an RTT.
    const rtt = (a - lsr - dlsr) | 0;
    if (rtt >= 0) this.rttMs = shortNtpToMs(rtt);
  }

  private ntpNow(nowMs: number): NtpTimestamp {
    return ntpFromUnixMs(this.wallOffsetMs + nowMs, this.ntp);
  }

  private build(nowMs: number, bye: boolean): Buffer {
    const block = this.reportBlock(nowMs);
    const info = this.tx[TX_SINCE_REPORT] === 1 ? this.senderInfo(nowMs) : null;
    const size = reportBytes(info !== null, block ? 1 : 0) + sdesBytes(this.cname) + (bye ? BYE_BYTES : 0);
    const buf = Buffer.allocUnsafe(size);
    let off = writeReport(buf, 0, this.localSsrc, info, block);
    off = writeSdesCname(buf, off, this.localSsrc, this.cname);
    if (bye) writeBye(buf, off, this.localSsrc);
    this.tx[TX_SINCE_REPORT] = 0;
    this.reportsSent++;
    return buf;
  }

  private senderInfo(nowMs: number): SenderInfo {
    const tx = this.tx;
    const ntp = this.ntpNow(nowMs);
    // §6.4.1: the RTP timestamp of the same instant as the NTP one, extrapolated
    // from the last packet sent at the codec's clock.
    const elapsed = Math.round(((nowMs - tx[TX_LAST_MS]) * this.clockRate) / 1000);
    return {
      ntpSeconds: ntp.seconds,
      ntpFraction: ntp.fraction,
      rtpTimestamp: (tx[TX_LAST_TS] + elapsed) >>> 0,
      packetCount: tx[TX_PACKETS],
      octetCount: tx[TX_OCTETS],
    };
  }

  private reportBlock(nowMs: number): ReportBlock | null {
    const rx = this.rx;
    if (!rx.active) return null;
    const haveSr = this.srSsrc === rx.ssrc;
    return {
      ssrc: rx.ssrc,
      fractionLost: rx.closeInterval(),
      cumulativeLost: rx.cumulativeLost,
      extendedHighestSeq: rx.extendedMax,
      jitter: rx.jitterUnits,
      lsr: haveSr ? this.srLsr : 0,
      dlsr: haveSr ? Math.max(0, msToShortNtp(nowMs - this.srArrivalMs)) : 0,
    };
  }
}

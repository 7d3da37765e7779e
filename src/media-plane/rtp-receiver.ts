// The receive side of an RtpEndpoint: every datagram its sockets take comes here
// (the sockets' 'message' listeners are this object's fields, so a packet costs
// no extra call). RTP is checked (version, length, a header that fits, SRTP), its
// source accepted or refused (RtpSourceLatch), its payload type checked and its
// SSRC followed (a new one takes over only after a probation: SsrcProbation); RTCP, on the RTP port (RFC 5761 §4) or its own, is accepted from
// the peer's host only and handed to the leg's RTCP session.
//
// The hot path allocates nothing of its own: counters in the endpoint's stats
// object, no closures per packet (Node allocates the Buffer and rinfo).
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { rtpPayloadLength, rtpWellFormed } from '../mixer/rtp.ts';
import type { EndpointMedia, EndpointStats, RtcpContext, RtpEndpointOptions } from './rtp-endpoint.ts';
import { RtpSourceLatch } from './rtp-source-latch.ts';
import { SSRC_HOLD, SSRC_SWITCH, SsrcProbation } from './ssrc-probation.ts';

/** Largest datagram taken as RTP: a 20 ms Opus frame at its highest rate is ~1,275 bytes. */
const MAX_PACKET = 1500;
/**
 * After a negotiation, how long the payload types of the one before are still taken: until the
 * answer is in effect the peer may send the old formats (RFC 3264 §8.3.2), and packets it sent
 * before it switched are still in flight (the mixer decodes them with the old codec: OldCodecStream).
 */
export const OLD_PT_GRACE_MS = 300;
/** At most one 'SSRC on probation dropped' log line per this interval. */
const LOG_EVERY_MS = 5000;

export class RtpReceiver {
  /** performance.now() of the last valid RTP packet (or of the receiver's creation). */
  lastRxMs = performance.now();
  /** Where the peer's RTP may come from (the latched source, once latched). */
  readonly source: RtpSourceLatch;
  /** performance.now() of the last RTCP report the peer sent that was read (0: none yet). */
  lastRtcpRxMs = 0;
  /** The source of the last RTCP packet accepted (null: none yet, or since configure()). */
  rtcpFromIp: string | null = null;
  rtcpFromPort = 0;
  /** The leg's RTCP session, once attached: told of every valid RTP packet, given the peer's RTCP. */
  rtcp: RtcpContext | null = null;
  private media: EndpointMedia | null = null;
  private readonly allowedPt = new Uint8Array(128);
  /** The payload types of the negotiation before this one, taken until `oldPtUntil` (performance.now()). */
  private readonly oldPt = new Uint8Array(128);
  private oldPtUntil = 0;
  /** The audio payload type, and the one before it (taken until `oldPtUntil`): only audio may start a new stream. */
  private audioPt = -1;
  private oldAudioPt = -1;
  /** Which SSRC is the stream; a new one's audio is held until it passes probation. */
  private readonly ssrcs = new SsrcProbation();
  private lastSsrc = -1;
  private lastProbationLogMs = -Infinity;
  private loggedProbation = 0;

  constructor(
    /** The endpoint's counters (the send side counts into the same object). */
    private readonly stats: EndpointStats,
    private readonly opts: RtpEndpointOptions,
    /** A packet latched its source ('latch', 'once'): the endpoint sends there from now on. */
    private readonly latched: (rinfo: dgram.RemoteInfo) => void,
  ) {
    this.source = new RtpSourceLatch(opts.latching, opts.log);
  }

  /** A negotiation: the payload types accepted from now on; `moved`: the peer's SDP address changed. */
  configure(media: EndpointMedia, moved: boolean): void {
    if (this.media !== null) {
      this.oldPt.set(this.allowedPt);
      this.oldPtUntil = performance.now() + OLD_PT_GRACE_MS;
      this.oldAudioPt = this.audioPt;
    }
    this.media = media;
    this.audioPt = media.audioPt;
    this.allowedPt.fill(0);
    for (const pt of media.payloadTypes) if (pt >= 0 && pt < 128) this.allowedPt[pt] = 1;
    this.source.signalled(media.remote.ip, media.remote.port, moved);
    if (moved) this.rtcpFromIp = null;
  }

  /** A datagram on the RTP port: RTP, or RTCP multiplexed with it. */
  readonly onRtpMessage = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    const m = this.media;
    if (m === null) return; // not negotiated yet (our offer is out, no answer): nothing to play it to
    const len = buf.length;
    if (len < 8 || len > MAX_PACKET || buf[0] >> 6 !== 2) {
      if (otherProtocol(buf)) this.stats.otherProtocol++;
      else this.stats.malformed++;
      return;
    }
    const b1 = buf[1];
    if (b1 >= 192 && b1 <= 223) {
      // RTCP on the RTP port (RFC 5761 §4): 8 bytes at least (an RR without report blocks).
      this.takeRtcp(buf, rinfo);
      return;
    }
    if (len < 12) {
      this.stats.malformed++;
      return;
    }
    // A packet that is not the peer's (a header whose CSRCs, extension or padding do not fit,
    // SRTP that does not authenticate, a payload type never negotiated) is dropped before its
    // source is looked at: it must not latch the leg, take it back for the signalled address,
    // or put its sender on latching probation, which would break the streak of the peer's own
    // packets from behind a NAT (one such packet between each two of the peer's kept the leg
    // from ever latching to it). SRTP is checked after decryption (its padding is encrypted).
    if (!m.srtp && !rtpWellFormed(buf)) {
      this.stats.malformed++;
      return;
    }
    // Source port 0 (only a raw socket can send from it) can be neither latched nor sent to. A
    // source refused whatever it sends (the leg latched elsewhere) is dropped before decryption:
    // a flood from another address costs no authentication (~19 µs a forged packet).
    if (rinfo.port === 0 || this.source.refuses(rinfo, this.lastRxMs)) {
      this.source.ignored(rinfo, ++this.stats.wrongSource);
      return;
    }
    let pkt = buf;
    if (m.srtp) {
      const plain = m.srtp.unprotectRtp(buf);
      if (plain === null) {
        this.stats.srtpFailures++;
        return;
      }
      pkt = plain;
      if (!rtpWellFormed(pkt)) {
        this.stats.malformed++;
        return;
      }
    }
    const now = performance.now();
    const pt = pkt[1] & 0x7f;
    if (this.allowedPt[pt] === 0 && (this.oldPt[pt] === 0 || now >= this.oldPtUntil)) {
      this.stats.unexpectedPt++;
      // Not played (RFC 3550 §5.1: a receiver ignores payload types it does not understand), but
      // one of the stream's own, from the peer, holds a number of its sequence: an RFC 6263 §4.6
      // keep-alive (an empty packet of a payload type not negotiated, numbered and timestamped in
      // the stream). Dropped here, its number was a hole the jitter buffer concealed as a lost
      // frame; the mixer takes it as a packet that brings no frame instead (onSkip;
      // MixerParticipant.pushRtp: its number is played over). Only an empty one: a packet with a
      // payload of a type never negotiated is nobody's keep-alive, and one numbered as the
      // peer's next packet (a forgery from its address) would have that packet's audio played
      // over (test/e2e/adversary-rtcp.test.ts).
      const skip = this.opts.onSkip;
      if (skip !== undefined && rtpPayloadLength(pkt) === 0 && ((pkt[8] << 24) | (pkt[9] << 16) | (pkt[10] << 8) | pkt[11]) >>> 0 === this.ssrcs.ssrc && this.source.isPeer(rinfo)) skip(pkt, now);
      return;
    }
    if (!this.source.accepts(rinfo, this.lastRxMs)) {
      // Counted as from a wrong source until its source latches (then taken back below).
      this.source.hold(pkt, rinfo);
      this.source.ignored(rinfo, ++this.stats.wrongSource);
      return;
    }
    const held = this.source.wantsLatch ? this.source.takeHeld(rinfo) : null;
    if (held !== null) {
      // The source passed probation: its first packets play before this one.
      this.stats.wrongSource -= held.length;
      for (const h of held) this.take(h, h.length, rinfo, m, now);
    }
    this.take(pkt, len, rinfo, m, now);
  };

  /** A packet from an accepted source, checked (and decrypted): counted (`len`: as received) and played. */
  private take(pkt: Buffer, len: number, rinfo: dgram.RemoteInfo, m: EndpointMedia, now: number): void {
    if (this.source.wantsLatch) {
      this.source.latch(rinfo);
      if (m.remote.ip !== null) this.latched(rinfo);
    }
    this.lastRxMs = now;
    const pt = pkt[1] & 0x7f;
    const verdict = this.ssrcs.check(pkt, len, pt === this.audioPt || (pt === this.oldAudioPt && now < this.oldPtUntil));
    if (verdict === SSRC_HOLD) {
      // Counted as dropped until its SSRC takes over (then taken back below).
      const dropped = ++this.stats.ssrcProbation - this.ssrcs.heldTotal;
      if (dropped > this.loggedProbation && now - this.lastProbationLogMs > LOG_EVERY_MS) {
        this.lastProbationLogMs = now;
        this.loggedProbation = dropped;
        this.opts.log.warn({ stream: this.ssrcs.ssrc, dropped }, 'RTP of another SSRC interleaved with the stream dropped (RFC 3550 §A.1 probation)');
      }
      return;
    }
    if (verdict === SSRC_SWITCH) {
      // The new SSRC passed probation: its first packets play before this one.
      const n = this.ssrcs.heldCount;
      this.stats.ssrcProbation -= n;
      for (let i = 0; i < n; i++) this.play(this.ssrcs.heldPacket(i), this.ssrcs.heldWireLength(i), now);
      this.ssrcs.releaseHeld();
    }
    this.play(pkt, len, now);
  }

  /** A packet of the stream (or another SSRC's non-audio): counted and handed on. */
  private play(pkt: Buffer, len: number, now: number): void {
    this.stats.packetsIn++;
    this.stats.bytesIn += len;
    const ssrc = ((pkt[8] << 24) | (pkt[9] << 16) | (pkt[10] << 8) | pkt[11]) >>> 0;
    if (ssrc === this.ssrcs.ssrc) {
      if (ssrc !== this.lastSsrc) {
        if (this.lastSsrc !== -1) this.stats.ssrcChanges++;
        this.lastSsrc = ssrc;
        this.opts.onSsrc(ssrc);
      }
      // RTCP's receiver statistics are the stream's (another SSRC's events would restart them, §8.2).
      this.rtcp?.onRtpReceived(ssrc, (pkt[2] << 8) | pkt[3], ((pkt[4] << 24) | (pkt[5] << 16) | (pkt[6] << 8) | pkt[7]) >>> 0, now);
    }
    this.opts.onRtp(pkt, now);
  }

  /** A datagram on the RTCP port. */
  readonly onRtcpMessage = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.media === null) return;
    if (buf.length < 8 || buf.length > MAX_PACKET || buf[0] >> 6 !== 2) {
      if (otherProtocol(buf)) this.stats.otherProtocol++;
      else this.stats.malformed++;
      return;
    }
    this.takeRtcp(buf, rinfo);
  };

  private takeRtcp(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const m = this.media!;
    // RTCP is accepted from the peer's host only (its port may differ from the RTP one), or
    // from the host its a=rtcp named (RFC 3605).
    const expectIp = this.source.ip ?? m.remote.ip;
    if (expectIp !== null && rinfo.address !== expectIp && rinfo.address !== m.remote.rtcpIp) {
      this.stats.wrongSource++;
      return;
    }
    let pkt: Buffer | null = buf;
    if (m.srtp) pkt = m.srtp.unprotectRtcp(buf);
    if (pkt === null) {
      this.stats.srtpFailures++;
      return;
    }
    this.stats.rtcpIn++;
    // Where the peer's RTCP comes from: an a=rtcp address (RFC 3605) is where reports go only
    // until the peer's own RTCP shows where it is (symmetric RTCP: behind a NAT or an SBC that
    // left a=rtcp unrewritten, that address is private and unreachable).
    this.rtcpFromIp = rinfo.address;
    this.rtcpFromPort = rinfo.port;
    const now = performance.now();
    if (this.rtcp && !this.rtcp.handleRtcp(pkt, now)) this.stats.malformed++;
    else this.lastRtcpRxMs = now;
  }
}

/**
 * A datagram of another protocol that shares media ports (RFC 7983 §7, by its first byte:
 * 0-3 STUN, 16-19 ZRTP, 20-63 DTLS, 64-79 TURN channel), with a STUN message checked for its
 * magic cookie (RFC 5389 §6): ignored, and counted apart from malformed packets.
 */
export function otherProtocol(buf: Buffer): boolean {
  if (buf.length < 4 || buf.length > MAX_PACKET) return false;
  const b0 = buf[0];
  if (b0 <= 3) return buf.length >= 20 && buf[4] === 0x21 && buf[5] === 0x12 && buf[6] === 0xa4 && buf[7] === 0x42;
  return b0 >= 16 && b0 <= 79;
}

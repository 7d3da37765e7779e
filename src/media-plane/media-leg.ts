// One SIP leg in a room: its negotiated audio, its own RTP endpoint (socket,
// latching, SRTP, RTCP), its place in the mixer, its DTMF and talk events.
// Created only by MediaRoom.
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../util/logger.ts';
import type { DtmfEvent } from '../dtmf/dtmf-event.ts';
import type { FrameSource } from '../mixer/frames.ts';
import type { InbandDtmfMode, MixerParticipant, ParticipantMedia } from '../mixer/mixer-participant.ts';
import { MediaClosedError } from './media-errors.ts';
import type { MediaLeg, MediaLegCloseReason } from './media-api.ts';
import { MediaLegBase } from './media-leg-base.ts';

export type { MediaLeg, MediaLegCloseReason, MediaLegEvents } from './media-api.ts';
import type { RtcpStats } from './rtcp/index.ts';
import type { RtcpContext, RtpEndpoint, SrtpContext } from './rtp-endpoint.ts';
import { PayloadTypeMap } from './payload-type-map.ts';
import { sdpHosts } from './sdp-hosts.ts';
import { buildAnswer, buildOffer, negotiateOffer, parseAnswer, type OfferPts } from './sdp-negotiator.ts';
import type { Direction, IpFamily, NegotiatedAudio, SdpSessionInfo, SrtpKey, SrtpSuite } from './sdp-types.ts';
import type { LegRole } from './thread/protocol.ts';
import { CODECS, type CodecName } from '../mixer/codecs/audio-codec.ts';

/** Comfort noise (RFC 3389), static payload type 13: accepted and treated as silence. */
const CN_PT = 13;

/** What a leg needs from its room (kept narrow so the leg cannot reach other legs). */
/** The leg's RTCP session as the leg uses it (src/media-plane/rtcp/). */
export type LegRtcp = RtcpContext & { setClockRate(rate: number): void; readonly stats: RtcpStats };

export interface LegHost {
  readonly codecs: readonly CodecName[];
  /** Whether IPv6 media is configured (media.rtpIp6): IPv6 peers are accepted. */
  readonly ipv6: boolean;
  /** Opens this leg's RTP endpoint in `family` (RTCP port too when `withRtcp`), keeping `port` when it is free. */
  openEndpoint(leg: LocalMediaLeg, withRtcp: boolean, family: IpFamily, port?: number): Promise<RtpEndpoint>;
  /** An SRTP context: what we send under `local`, what we receive under `remote`. */
  createSrtp(local: SrtpKey, remote: SrtpKey): SrtpContext;
  /** The leg's RTCP (reports sent every ~5 s, the peer's read). */
  createRtcp(leg: LocalMediaLeg, clockRate: number): LegRtcp;
  /** A fresh local SRTP master key (and salt) for a suite. */
  newSrtpKey(suite: SrtpSuite, tag: number): SrtpKey;
  /** The mixer participant for this leg, created on first use. */
  participantFor(leg: LocalMediaLeg, media: ParticipantMedia): MixerParticipant;
  legClosed(leg: LocalMediaLeg): void;
}

/** A leg on the thread that owns its room (the main thread with media.threads: 0, else a media thread). */
export class LocalMediaLeg extends MediaLegBase implements MediaLeg {
  /** The SSRC of everything Parley sends this leg (stable for the leg's life, RFC 3550 §8). */
  readonly ssrc = randomInt(1, 0xffffffff);
  private rtp: RtpEndpoint | null = null;
  private participant: MixerParticipant | null = null;
  private readonly sdp: SdpSessionInfo = { sessionId: String(randomInt(1, 2 ** 47)), version: 1 };
  /** Our SRTP key, kept across re-offers of the same suite. */
  private localKey: SrtpKey | null = null;
  /** The SRTP context in use and the keys it was made from (kept while they stay the same). */
  private srtp: { ctx: SrtpContext; local: SrtpKey; remote: SrtpKey } | null = null;
  private pendingOffer: { srtp: boolean; pts: OfferPts } | null = null;
  /** The payload types this leg's session has bound (RFC 3264 §8.3.2): our offers keep them. */
  private readonly pts = new PayloadTypeMap();
  private rtcp: LegRtcp | null = null;
  /** The endpoint the RTCP session reports through (a new one after a re-offer that changed family). */
  private rtcpOn: RtpEndpoint | null = null;
  private watching = false;
  private timedOut = false;
  private lastDirection: NegotiatedAudio['direction'] | null = null;
  /** Bound once so the same function can be attached to each new participant. */
  private readonly forwardDtmf = (e: DtmfEvent): void => {
    this.emitDigit(e);
  };
  private readonly forwardTalk = (t: boolean): void => {
    this.safeEmit('talk', t);
  };

  /** @internal Use MediaRoom.createLeg() / createOutgoingLeg(). */
  constructor(id: string, private readonly host: LegHost, log: Logger) {
    super(id, log);
  }

  /** The leg's RTP endpoint (its port, counters, where it sends). */
  get endpoint(): RtpEndpoint | null {
    return this.rtp;
  }

  /** What RTCP says of this leg's streams (loss, jitter, RTT, both ways), once negotiated. */
  get rtcpStats(): Readonly<RtcpStats> | null {
    return this.rtcp?.stats ?? null;
  }

  /** @internal The endpoint hands the peer's packets here. */
  readonly onRtp = (packet: Buffer, nowMs: number): void => {
    this.participant?.pushRtp(packet, nowMs);
  };

  /** @internal The endpoint saw a new SSRC from the peer. */
  readonly onSsrc = (ssrc: number): void => {
    this.log.debug({ ssrc }, 'peer SSRC');
    this.safeEmit('inboundssrc', ssrc);
  };

  /** @internal */
  get mixerParticipant(): MixerParticipant | null {
    return this.participant;
  }

  sendDigit(digit: string, durationMs: number, inband = false): void {
    if (!this.closed) this.participant?.sendDigit(digit, durationMs, inband);
  }

  /** Starts watching for RTP silence (once answered: a caller in early media or a ringing callee may rightly send nothing). */
  watchMedia(): void {
    this.watching = true;
    if (this.participant) this.participant.lastRxMs = performance.now();
  }

  /**
   * @internal For the room's check (about once a second): how long the peer sent neither RTP nor
   * RTCP (reports count, as in Asterisk's rtptimeout: silence suppression sends no RTP); null when
   * none is owed: not watched, no address, a call's leg not sendrecv (a holder), a record-only
   * (SIPREC) stream not recvonly (paused). The room judges record-only streams together.
   */
  silence(nowMs: number): { ms: number; recordOnly: boolean } | null {
    const p = this.participant;
    const n = this.negotiated;
    if (!this.watching || this.closed || !p || !n || n.remote.ip === null || n.direction !== (p.recordOnly ? 'recvonly' : 'sendrecv')) return null;
    return { ms: nowMs - Math.max(p.lastRxMs, this.rtp?.lastRtcpRxMs ?? 0), recordOnly: p.recordOnly };
  }

  /** @internal The room's verdict: past `timeoutMs` of silence, 'mediatimeout' once per silent stretch. */
  checkMediaTimeout(silentMs: number | null, timeoutMs: number): void {
    if (silentMs === null || silentMs < timeoutMs) {
      this.timedOut = false;
      return;
    }
    if (this.timedOut) return;
    this.timedOut = true;
    this.log.warn({ silentMs: Math.round(silentMs) }, 'no RTP nor RTCP from the peer: media timeout');
    this.safeEmit('mediatimeout', Math.round(silentMs / 1000));
  }

  /**
   * Answers an offer: the first one (from the room) or a re-offer (hold,
   * resume, new address, new codec, new key). The leg's socket is of the
   * family of the peer's c= line; the port stays the same unless a re-offer
   * moves the peer to the other family (IPv4 to IPv6 or back): then the leg
   * gets a new socket of that family (a new port in the answer, RFC 3264 §8.3.1)
   * and the old one is closed. Throws SdpNegotiationError (→ 488) and leaves
   * the leg as it was when the offer cannot be accepted.
   */
  async applyOffer(sdp: string): Promise<string> {
    this.assertOpen();
    const offer = await sdpHosts.resolve(sdp); // a no-op in a media thread: the main thread resolved them
    this.assertOpen();
    const n = negotiateOffer(offer, this.host.codecs, { ipv6: this.host.ipv6 });
    let ep = this.rtp;
    if (!ep || ep.family !== n.family) {
      const fresh = await this.host.openEndpoint(this, !n.remote.rtcpMux, n.family);
      if (this.closed) {
        fresh.close();
        throw new MediaClosedError('leg closed during negotiation');
      }
      if (ep) {
        this.log.info({ from: `IP${ep.family}`, to: `IP${n.family}`, oldPort: ep.port, port: fresh.port }, 're-offer changed address family: new RTP socket');
        ep.close();
      }
      this.rtp = ep = fresh;
    } else if (!n.remote.rtcpMux) {
      await ep.ensureRtcpPort();
      this.assertOpen();
    }
    const local = n.remoteSrtp ? this.keyFor(n.remoteSrtp.suite, n.remoteSrtp.tag, n.remoteSrtp.mki?.length) : null;
    this.configure(n, local);
    this.notePeerPts(n);
    this.pendingOffer = null; // the peer's offer supersedes one of ours it never answered
    const l = ep.local;
    return this.settle(buildAnswer(n, { ip: l.ip, port: l.port, rtcpPort: n.remote.rtcpMux ? null : l.rtcpPort, srtp: local }, this.nextVersion()));
  }

  /** @internal An offer for an outgoing leg (first offer, from the room), from a socket of `family`. */
  async makeOffer(srtp: boolean, family: IpFamily = 4): Promise<string> {
    this.assertOpen();
    // Our offer proposes rtcp-mux but must be ready for an answer that refuses it (RFC 5761 §5.1.1).
    const ep = await this.host.openEndpoint(this, true, family);
    if (this.closed) {
      ep.close();
      throw new MediaClosedError('leg closed while making an offer');
    }
    this.rtp = ep;
    const pts = this.pts.offerPts(this.host.codecs);
    this.pendingOffer = { srtp, pts };
    const key = srtp ? this.keyFor('AES_CM_128_HMAC_SHA1_80', 1) : null;
    const l = ep.local;
    this.lastLocalSdp = buildOffer(this.host.codecs, { ip: l.ip, port: l.port, rtcpPort: l.rtcpPort, offerMux: true, srtp: key }, this.nextVersion(), 'sendrecv', pts);
    return this.lastLocalSdp;
  }

  /**
   * A new offer on the leg's own socket, for a peer that asked for one (an offerless
   * re-INVITE, RFC 3264 §8, RFC 6337 §5.3): a full offer, every codec the room takes (the
   * current one first), telephone-event, our current SRTP key on an SRTP leg, so a new peer
   * behind a PBX can choose another codec. Each codec and telephone-event keeps the payload
   * type the session bound it to, in either side's SDP (RFC 3264 §8.3.2: a peer that
   * negotiated telephone-event at 96 is offered it at 96, not at our usual 101); new ones get
   * a number the session has not used. `direction`: what the offer asks (sendonly or inactive
   * to pass a hold on to this peer, sendrecv again on resume). Give the answer to applyAnswer().
   */
  async makeReoffer(direction: Direction = 'sendrecv'): Promise<string> {
    this.assertOpen();
    const n = this.negotiated;
    const ep = this.rtp;
    if (!n || !ep) throw new Error('the leg has no media to offer again');
    // Ready for an answer that refuses rtcp-mux, as the first offer is (RFC 5761 §5.1.1).
    await ep.ensureRtcpPort();
    this.assertOpen();
    const srtp = n.remoteSrtp && this.localKey ? this.localKey : null;
    const codecs = [n.codec, ...this.host.codecs.filter((c) => c !== n.codec)];
    const pts = this.pts.offerPts(codecs);
    this.pendingOffer = { srtp: srtp !== null, pts };
    const l = ep.local;
    // The session's profile (AVPF when the peer chose it) stays the same.
    this.lastLocalSdp = buildOffer(codecs, { ip: l.ip, port: l.port, rtcpPort: l.rtcpPort, offerMux: true, srtp, feedback: n.feedback === true }, this.nextVersion(), direction, pts);
    return this.lastLocalSdp;
  }

  /** Applies the answer to our offer (outgoing legs, or after makeReoffer). Throws SdpNegotiationError when it is unusable. */
  async applyAnswer(sdp: string): Promise<void> {
    this.assertOpen();
    const answer = await sdpHosts.resolve(sdp);
    this.assertOpen();
    if (!this.pendingOffer || !this.rtp) throw new Error('no offer is pending on this leg');
    // The peer sends to the address in our offer: its answer must be of that family.
    const p = this.pendingOffer;
    const n = parseAnswer(answer, this.host.codecs, p.srtp ? this.localKey : null, { ipv6: this.host.ipv6, family: this.rtp.family }, p.pts);
    this.pendingOffer = null;
    this.configure(n, this.localKey);
    this.notePeerPts(n);
  }

  /** Plays a source to this leg only (whisper, a prompt for one caller); queued until media is negotiated. */
  play(source: FrameSource): void {
    this.assertOpen();
    if (this.participant) this.participant.play(source);
    else this.pendingSources.push(source);
  }

  /** The leg's place in the hear/speak matrix; kept here so that it holds before the participant exists (outgoing legs). */
  private readonly role = { muted: false, deaf: false, hidden: false, audience: null as ReadonlySet<string> | null, inband: null as InbandDtmfMode | null, dtmfTo: null as string | null };
  private readonly pendingSources: FrameSource[] = [];

  protected setRole(change: LegRole): void {
    this.assertOpen();
    const { audience, inband, ...flags } = change;
    Object.assign(this.role, flags);
    if (inband !== undefined) this.role.inband = inbandMode(inband);
    if (audience !== undefined) this.role.audience = audience ? new Set(audience) : null;
    if (this.participant) this.applyRole(this.participant);
  }

  private applyRole(p: MixerParticipant): void {
    p.muted = this.role.muted;
    p.deaf = this.role.deaf;
    p.hidden = this.role.hidden;
    p.audience = this.role.audience;
    p.dtmfTo = this.role.dtmfTo;
    if (this.role.inband) p.setInbandDtmf(this.role.inband);
  }

  /** Closes the leg: mixer participant, then endpoint, then tells the room. Idempotent; one 'close'. */
  close(reason: MediaLegCloseReason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    for (const src of this.pendingSources.splice(0)) src.stop();
    this.participant?.close();
    this.participant = null;
    this.rtp?.close();
    this.rtp = null;
    this.rtcpOn = null;
    this.host.legClosed(this);
    this.announceClose(reason);
  }

  /**
   * Our key for a suite: the one we have when the suite is unchanged, else a new one
   * (crypto.randomBytes). `mkiLength`: in an answer to a line with an MKI, ours has one of
   * the same length (value 1), and none otherwise ("symmetric MKI", as SBCs answer Lync and
   * Skype for Business, whose mediation servers offer `|2^31|1:1`); Parley's first offers have
   * none (a re-offer repeats the key in use, makeReoffer).
   */
  private keyFor(suite: SrtpSuite, tag: number, mkiLength?: number): SrtpKey {
    if (!this.localKey || this.localKey.suite !== suite) this.localKey = this.host.newSrtpKey(suite, tag);
    else if (this.localKey.tag !== tag) this.localKey = { ...this.localKey, tag };
    if (mkiLength !== this.localKey.mki?.length) {
      const { mki: _old, ...rest } = this.localKey;
      this.localKey = mkiLength ? { ...rest, mki: { value: 1, length: mkiLength } } : rest;
    }
    return this.localKey;
  }

  /**
   * The SRTP context for a negotiation: the one in use while both keys stay the same,
   * so a re-offer or answer that repeats them (hold, resume, a session refresh, a new
   * address) continues the crypto context with its rollover counters and replay lists
   * (RFC 4568 §7.1.4). A new context only when a key, a suite or an MKI changes: a
   * fresh one after a sequence wrap would restart both directions at ROC 0, and
   * neither side could decrypt the other any more.
   */
  private srtpFor(local: SrtpKey, remote: SrtpKey): SrtpContext {
    const cur = this.srtp;
    if (cur && sameKey(cur.local, local) && sameKey(cur.remote, remote)) return cur.ctx;
    this.srtp = { ctx: this.host.createSrtp(local, remote), local, remote };
    return this.srtp.ctx;
  }

  /** Applies a negotiation to the endpoint and the mixer participant. */
  private configure(n: NegotiatedAudio, local: SrtpKey | null): void {
    const ep = this.rtp!;
    if (!n.remoteSrtp || !local) this.srtp = null; // plain RTP now: a later SRTP offer starts a new context
    const sending = n.remote.ip !== null && (n.direction === 'sendrecv' || n.direction === 'sendonly');
    const pts = [n.recvPt, CN_PT];
    if (n.dtmf) pts.push(n.dtmf.recvPt);
    const srtp = n.remoteSrtp && local ? this.srtpFor(local, n.remoteSrtp) : null;
    ep.configure({ remote: n.remote, payloadTypes: pts, audioPt: n.recvPt, srtp, sending });
    this.setNegotiated(n);
    const clock = CODECS[n.codec].rtpClock;
    if (!this.rtcp) this.rtcp = this.host.createRtcp(this, clock);
    else this.rtcp.setClockRate(clock);
    if (this.rtcpOn !== ep) {
      ep.attachRtcp(this.rtcp);
      this.rtcpOn = ep;
    }
    const media: ParticipantMedia = {
      codec: n.codec,
      audioPt: n.recvPt,
      dtmfPt: n.dtmf?.recvPt ?? null,
      dtmfClock: n.dtmf?.clock ?? 8000,
      dtmfSendPt: n.dtmf?.sendPt ?? null,
      sendPt: n.sendPt,
      sendSsrc: this.ssrc,
      sendPtime: n.sendPtime,
      sendFec: n.sendFec === true,
    };
    let p = this.participant;
    if (!p) {
      p = this.host.participantFor(this, media);
      this.participant = p;
      p.on('dtmf', this.forwardDtmf);
      p.on('talk', this.forwardTalk);
      this.applyRole(p);
      for (const src of this.pendingSources.splice(0)) p.play(src);
    } else {
      p.setMedia(media);
    }
    // Coming off hold: the silence clock starts again.
    if (n.direction === 'sendrecv' && this.lastDirection !== 'sendrecv') p.lastRxMs = performance.now();
    this.lastDirection = n.direction;
    p.sending = sending;
    p.receiving = n.direction === 'sendrecv' || n.direction === 'recvonly';
  }

  private notePeerPts(n: NegotiatedAudio): void {
    for (const b of n.peerPts) this.pts.note(b.pt, b.key);
  }

  private nextVersion(): SdpSessionInfo {
    this.sdp.version++;
    return { ...this.sdp };
  }

  /**
   * Our new answer (made with the next o= version) becomes the last SDP, unless it says the
   * same as the last one: then that one is given again, its version unchanged (RFC 3264 §8: a
   * version goes up when the description changes; a session refresh, a re-INVITE that repeats
   * its SDP, gets the same answer, so an SBC or phone sees nothing to renegotiate). Our own
   * re-offers (hold, resume, an offerless re-INVITE's) always take a new version.
   */
  private settle(sdp: string): string {
    const body = (s: string): string => s.replace(/^o=.*$/m, '');
    if (this.lastLocalSdp !== '' && body(sdp) === body(this.lastLocalSdp)) {
      this.sdp.version--;
      return this.lastLocalSdp;
    }
    this.lastLocalSdp = sdp;
    return sdp;
  }
}

/** detectInbandDtmf's argument as the participant's mode. */
export function inbandMode(on: boolean | 'auto'): InbandDtmfMode {
  return on === 'auto' ? 'auto' : on ? 'on' : 'off';
}

/** The same master key, suite and MKI (the a=crypto tag may differ: it only pairs offer and answer lines). */
function sameKey(a: SrtpKey, b: SrtpKey): boolean {
  return a.suite === b.suite && a.keyBase64 === b.keyBase64 && a.mki?.value === b.mki?.value && a.mki?.length === b.mki?.length;
}

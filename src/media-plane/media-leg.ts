// One SIP leg in a room: its negotiated audio, its mediasoup transport, its
// place in the mixer, its DTMF and talk events. Created only by MediaRoom.
import { randomInt } from 'node:crypto';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import type { DtmfEvent } from '../dtmf/dtmf-event.ts';
import { parseSipInfoDtmf } from '../dtmf/sip-info-dtmf.ts';
import type { FrameSource } from '../mixer/frames.ts';
import type { MixerParticipant, ParticipantMedia } from '../mixer/mixer-participant.ts';
import type { LegTransport } from './leg-transport.ts';
import { MediaClosedError } from './media-errors.ts';
import { buildAnswer, buildOffer, negotiateOffer, parseAnswer } from './sdp-negotiator.ts';
import type { NegotiatedAudio, SdpSessionInfo, SrtpSuite } from './sdp-types.ts';
import type { CodecName } from '../mixer/codecs/audio-codec.ts';
import { DEFAULT_OPUS_PT } from './router-bridge.ts';

export type MediaLegCloseReason = 'closed' | 'room-closed' | 'worker-died' | 'transport-closed';

export type MediaLegEvents = {
  dtmf: [event: DtmfEvent];
  talk: [talking: boolean];
  /** The peer's RTP from a new SSRC is now routed to the mixer (the first one means media is flowing). */
  inboundssrc: [ssrc: number];
  /**
   * A watched leg (see watchMedia) sent no RTP for `seconds` while it should
   * have (sendrecv, not on hold): its phone is probably gone. Once per silence.
   */
  mediatimeout: [seconds: number];
  /** Terminal, exactly once, whoever closed the leg. */
  close: [reason: MediaLegCloseReason];
};

/** What a leg needs from its room (kept narrow so the leg cannot reach other legs). */
export interface LegHost {
  readonly codecs: readonly CodecName[];
  /** An unstarted transport on the room's router for this Opus payload type. */
  buildTransport(leg: MediaLeg, spec: TransportSpec): Promise<LegTransport>;
  /** The mixer participant for this leg, created on first use. */
  participantFor(leg: MediaLeg, media: ParticipantMedia): MixerParticipant;
  mediaFor(leg: MediaLeg, n: NegotiatedAudio, t: LegTransport): ParticipantMedia;
  legClosed(leg: MediaLeg): void;
}

export interface TransportSpec {
  rtcpMux: boolean;
  srtp: { suite: SrtpSuite; tag: number } | null;
  /** Opus payload type the peer wants to receive (selects the room's Router). */
  opusPt: number;
  port?: number;
}

function specOf(n: NegotiatedAudio, port?: number): TransportSpec {
  return {
    rtcpMux: n.remote.rtcpMux,
    srtp: n.remoteSrtp ? { suite: n.remoteSrtp.suite, tag: n.remoteSrtp.tag } : null,
    opusPt: n.codec === 'opus' ? n.sendPt : DEFAULT_OPUS_PT,
    port,
  };
}

export class MediaLeg extends TypedEmitter<MediaLegEvents> {
  readonly id: string;
  /** The leg's mix goes out under this SSRC inside the room (the peer sees the consumer's, stable too). */
  readonly mixSsrc = randomInt(1, 0xffffffff);
  private negotiated: NegotiatedAudio | null = null;
  private legTransport: LegTransport | null = null;
  private participant: MixerParticipant | null = null;
  private readonly sdp: SdpSessionInfo = { sessionId: String(randomInt(1, 2 ** 47)), version: 1 };
  private lastLocalSdp = '';
  private closed = false;
  private watching = false;
  private timedOut = false;
  private lastDirection: NegotiatedAudio['direction'] | null = null;
  private readonly log: Logger;
  /** Bound once so the same function can be attached to each new participant. */
  private readonly forwardDtmf = (e: DtmfEvent): void => {
    this.safeEmit('dtmf', e);
  };
  private readonly forwardTalk = (t: boolean): void => {
    this.safeEmit('talk', t);
  };

  /** @internal Use MediaRoom.createLeg() / createOutgoingLeg(). */
  constructor(id: string, private readonly host: LegHost, log: Logger) {
    super(log);
    this.id = id;
    this.log = log;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The latest SDP this leg produced (answer or offer). */
  get localSdp(): string {
    return this.lastLocalSdp;
  }

  get media(): Readonly<NegotiatedAudio> | null {
    return this.negotiated;
  }

  get transport(): LegTransport | null {
    return this.legTransport;
  }

  /** @internal The mixer participant, attached by the room. */
  attach(p: MixerParticipant): void {
    this.participant = p;
    p.on('dtmf', this.forwardDtmf);
    p.on('talk', this.forwardTalk);
  }

  /** @internal */
  get mixerParticipant(): MixerParticipant | null {
    return this.participant;
  }

  /**
   * Starts watching for RTP silence (call control does it once the leg is
   * answered: a caller in early media or a ringing callee may rightly send nothing).
   */
  watchMedia(): void {
    this.watching = true;
    if (this.participant) this.participant.lastRxMs = performance.now();
  }

  /** @internal Called by the room about once a second: emits 'mediatimeout' when due. */
  checkMediaTimeout(nowMs: number, timeoutMs: number): void {
    const p = this.participant;
    const n = this.negotiated;
    if (!this.watching || this.closed || !p || !n || n.direction !== 'sendrecv' || n.remote.ip === null) return;
    const silentMs = nowMs - p.lastRxMs;
    if (silentMs < timeoutMs) {
      this.timedOut = false;
      return;
    }
    if (this.timedOut) return;
    this.timedOut = true;
    this.log.warn({ silentMs: Math.round(silentMs) }, 'no RTP from the peer: media timeout');
    this.safeEmit('mediatimeout', Math.round(silentMs / 1000));
  }

  /**
   * Answers an offer: the first one (from the room) or a re-offer (hold,
   * resume, new address, new codec). Throws SdpNegotiationError (→ 488) and
   * leaves the leg as it was when the offer cannot be accepted.
   */
  async applyOffer(offer: string): Promise<string> {
    this.assertOpen();
    const n = negotiateOffer(offer, this.host.codecs);
    await this.apply(n);
    this.lastLocalSdp = buildAnswer(n, this.legTransport!.local, this.nextVersion());
    return this.lastLocalSdp;
  }

  /** @internal An offer for an outgoing leg (first offer, from the room). */
  async makeOffer(srtp: boolean): Promise<string> {
    this.assertOpen();
    const t = await this.host.buildTransport(this, {
      rtcpMux: true,
      srtp: srtp ? { suite: 'AES_CM_128_HMAC_SHA1_80', tag: 1 } : null,
      opusPt: DEFAULT_OPUS_PT,
    });
    if (this.closed) {
      t.close();
      throw new MediaClosedError('leg closed while making an offer');
    }
    this.legTransport = t;
    this.pendingOffer = { srtp };
    this.lastLocalSdp = buildOffer(this.host.codecs, t.local, this.nextVersion());
    return this.lastLocalSdp;
  }

  private pendingOffer: { srtp: boolean } | null = null;

  /** Applies the answer to our offer (outgoing legs). Throws SdpNegotiationError when it is unusable. */
  async applyAnswer(answer: string): Promise<void> {
    this.assertOpen();
    const t = this.legTransport;
    if (!this.pendingOffer || !t) throw new Error('no offer is pending on this leg');
    const n = parseAnswer(answer, this.host.codecs, this.pendingOffer.srtp ? t.local.srtp : null);
    if (n.codec === 'opus' && n.sendPt !== DEFAULT_OPUS_PT) {
      this.log.warn({ pt: n.sendPt }, 'answer changed the Opus payload type; the peer will receive ours (RFC 3264 §6.1 SHOULD)');
    }
    this.pendingOffer = null;
    // The peer already knows this transport's port: start it rather than replace it.
    await t.start(n);
    this.negotiated = n;
    this.updateParticipant(n, t);
  }

  /** Not heard by anyone (still heard by recorders' per-leg input). */
  mute(on = true): void {
    this.setRole({ muted: on });
  }

  /** Hears nothing. */
  deafen(on = true): void {
    this.setRole({ deaf: on });
  }

  /** Hidden listener: hears everyone, is heard by no one, left out of the room's mix. */
  hide(on = true): void {
    this.setRole({ hidden: on });
  }

  /** Coach: only the given legs hear this one (null: everyone again). */
  speakTo(legIds: readonly string[] | null): void {
    this.setRole({ audience: legIds ? new Set(legIds) : null });
  }

  /** Plays a source to this leg only (whisper, a prompt for one caller); queued until media is negotiated. */
  play(source: FrameSource): void {
    this.assertOpen();
    if (this.participant) this.participant.play(source);
    else this.pendingSources.push(source);
  }

  /** Runs in-band (Goertzel) DTMF detection even when telephone-event was negotiated. */
  detectInbandDtmf(on: boolean): void {
    this.setRole({ inband: on });
  }

  /** The leg's place in the hear/speak matrix; kept here so that it holds before the participant exists (outgoing legs). */
  private readonly role = { muted: false, deaf: false, hidden: false, audience: null as ReadonlySet<string> | null, inband: false };
  private readonly pendingSources: FrameSource[] = [];

  private setRole(change: Partial<MediaLeg['role']>): void {
    this.assertOpen();
    Object.assign(this.role, change);
    if (this.participant) this.applyRole(this.participant);
  }

  private applyRole(p: MixerParticipant): void {
    p.muted = this.role.muted;
    p.deaf = this.role.deaf;
    p.hidden = this.role.hidden;
    p.audience = this.role.audience;
    if (this.role.inband) p.setInbandDtmf(true);
  }

  /** A SIP INFO body from call control (application/dtmf-relay or application/dtmf). Throws DtmfInfoError. */
  handleSipInfo(contentType: string, body: string): DtmfEvent {
    this.assertOpen();
    const e = parseSipInfoDtmf(contentType, body);
    this.safeEmit('dtmf', e);
    return e;
  }

  /** @internal For SsrcDiscovery: this leg's transport, or null. */
  get discoveryTarget(): LegTransport | null {
    const t = this.legTransport;
    return t && !t.isClosed ? t : null;
  }

  /** @internal For SsrcDiscovery. */
  acceptsPt(pt: number): boolean {
    const n = this.negotiated;
    return !!n && (n.recvPt === pt || n.dtmf?.recvPt === pt);
  }

  /** @internal SsrcDiscovery saw an SSRC no producer takes. */
  async discoveredSsrc(ssrc: number, firstPt?: number): Promise<void> {
    if (this.closed || !this.legTransport) return;
    await this.legTransport.addRemoteSsrc(ssrc, firstPt);
  }

  /** Closes the leg: mixer participant, then transport, then tells the room. Idempotent; one 'close'. */
  close(reason: MediaLegCloseReason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    for (const src of this.pendingSources.splice(0)) src.stop();
    this.participant?.close();
    this.participant = null;
    this.legTransport?.close();
    this.legTransport = null;
    this.host.legClosed(this);
    this.log.debug({ reason }, 'leg closed');
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  private async apply(n: NegotiatedAudio): Promise<void> {
    const old = this.negotiated;
    const t = this.legTransport;
    if (old && t && sameTransport(old, n)) {
      // Only the direction (hold/resume) changed.
      this.negotiated = n;
      await t.setSending(n.remote.ip !== null && (n.direction === 'sendrecv' || n.direction === 'sendonly'));
      this.updateParticipant(n, t);
      return;
    }
    // A new address, codec or key: a new transport. The SDP was already
    // accepted, so the old one goes first and its port is reused (the worker
    // handles the close before the create: one channel, in order).
    const port = t?.local.port;
    if (t) t.close();
    this.legTransport = null;
    const next = await this.host.buildTransport(this, specOf(n, port));
    try {
      await next.start(n);
    } catch (err) {
      next.close();
      throw err;
    }
    if (this.closed) {
      next.close();
      throw new MediaClosedError('leg closed during negotiation');
    }
    this.legTransport = next;
    this.negotiated = n;
    this.updateParticipant(n, next);
  }

  private updateParticipant(n: NegotiatedAudio, t: LegTransport): void {
    const media = this.host.mediaFor(this, n, t);
    let p = this.participant;
    if (!p) {
      p = this.host.participantFor(this, media);
      this.attach(p);
      this.applyRole(p);
      for (const src of this.pendingSources.splice(0)) p.play(src);
    } else {
      p.setMedia(media);
    }
    // Coming off hold: the silence clock starts again.
    if (n.direction === 'sendrecv' && this.lastDirection !== 'sendrecv') p.lastRxMs = performance.now();
    this.lastDirection = n.direction;
    p.sending = n.remote.ip !== null && (n.direction === 'sendrecv' || n.direction === 'sendonly');
    p.receiving = n.direction === 'sendrecv' || n.direction === 'recvonly';
  }

  private nextVersion(): SdpSessionInfo {
    this.sdp.version++;
    return { ...this.sdp };
  }

  private assertOpen(): void {
    if (this.closed) throw new MediaClosedError(`leg ${this.id} is closed`);
  }
}

function sameTransport(a: NegotiatedAudio, b: NegotiatedAudio): boolean {
  return (
    a.codec === b.codec &&
    a.sendPt === b.sendPt &&
    a.recvPt === b.recvPt &&
    a.dtmf?.recvPt === b.dtmf?.recvPt &&
    a.dtmf?.clock === b.dtmf?.clock &&
    // c=0.0.0.0 (hold) keeps the transport; it only stops sending.
    (b.remote.ip === null || (a.remote.ip === b.remote.ip && a.remote.port === b.remote.port)) &&
    a.remote.rtcpPort === b.remote.rtcpPort &&
    a.remote.rtcpMux === b.remote.rtcpMux &&
    a.remoteSrtp?.keyBase64 === b.remoteSrtp?.keyBase64 &&
    a.remoteSrtp?.suite === b.remoteSrtp?.suite
  );
}

// A leg of a room that runs in a media thread, as call control sees it on the
// main thread: the same API as LocalMediaLeg (media-api.ts). Negotiation is a
// request to the thread; the hear/speak matrix and watchMedia are commands;
// DTMF, talk, SSRC and media-timeout events come back as messages; the
// endpoint, RTCP and jitter figures are the thread's ~1 s snapshot.
import type { FrameSource } from '../../mixer/frames.ts';
import type { Logger } from '../../util/logger.ts';
import type { EndpointView, MediaLeg, MediaLegCloseReason, ParticipantView } from '../media-api.ts';
import { MediaLegBase } from '../media-leg-base.ts';
import { sdpHosts } from '../sdp-hosts.ts';
import type { RtcpStats } from '../rtcp/index.ts';
import type { LegInfo, LegRole, LegSnapshot, MediaEvent } from './protocol.ts';
import type { RemoteMediaRoom } from './remote-media-room.ts';
import type { Direction } from '../sdp-types.ts';

type LegEvent = Extract<MediaEvent, { legId: string }>;

/** The participant as last reported (one object for the leg's life: readers may hold it). */
type MutableParticipantView = { -readonly [K in keyof ParticipantView]: ParticipantView[K] };

export class RemoteMediaLeg extends MediaLegBase implements MediaLeg {
  ssrc = 0;
  private ep: EndpointView | null = null;
  private rtcp: RtcpStats | null = null;
  private participant: MutableParticipantView | null = null;
  private readonly role = { muted: false, deaf: false };

  /** @internal Use MediaRoom.createLeg() / createOutgoingLeg(). */
  constructor(
    id: string,
    /** Its number in the room's recorder rings. */
    readonly slot: number,
    private readonly room: RemoteMediaRoom,
    log: Logger,
  ) {
    super(id, log);
  }

  get endpoint(): EndpointView | null {
    return this.ep;
  }

  get rtcpStats(): Readonly<RtcpStats> | null {
    return this.rtcp;
  }

  get mixerParticipant(): ParticipantView | null {
    return this.participant;
  }

  watchMedia(): void {
    this.room.thread.send({ type: 'leg.watch', roomId: this.room.id, legId: this.id });
  }

  sendDigit(digit: string, durationMs: number, inband = false): void {
    if (!this.isClosed) this.room.thread.send({ type: 'leg.digit', roomId: this.room.id, legId: this.id, digit, durationMs, inband });
  }

  async applyOffer(offer: string): Promise<string> {
    this.assertOpen();
    const resolved = await sdpHosts.resolve(offer);
    this.assertOpen();
    const info = await this.room.thread.request<LegInfo>({ type: 'leg.applyOffer', roomId: this.room.id, legId: this.id, offer: resolved });
    this.assertOpen();
    this.applyInfo(info);
    return info.localSdp;
  }

  async applyAnswer(answer: string): Promise<void> {
    this.assertOpen();
    const resolved = await sdpHosts.resolve(answer);
    this.assertOpen();
    const info = await this.room.thread.request<LegInfo>({ type: 'leg.applyAnswer', roomId: this.room.id, legId: this.id, answer: resolved });
    this.assertOpen();
    this.applyInfo(info);
  }

  async makeReoffer(direction: Direction = 'sendrecv'): Promise<string> {
    this.assertOpen();
    const info = await this.room.thread.request<LegInfo>({ type: 'leg.makeReoffer', roomId: this.room.id, legId: this.id, direction });
    this.assertOpen();
    this.applyInfo(info);
    return info.localSdp;
  }

  play(source: FrameSource): void {
    this.assertOpen();
    this.room.thread.playSource(this.room, this.id, source, source.sampleRate ?? this.room.mixerSampleRate);
  }

  close(reason: MediaLegCloseReason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.ep = null;
    if (reason !== 'room-closed') this.room.thread.send({ type: 'leg.close', roomId: this.room.id, legId: this.id });
    this.room.legClosed(this);
    this.announceClose(reason);
  }

  /** @internal What the thread answered to a negotiation. */
  applyInfo(info: LegInfo): void {
    this.ssrc = info.ssrc;
    this.lastLocalSdp = info.localSdp;
    this.setNegotiated(info.media);
    if (info.endpoint) this.ep = info.endpoint;
    if (info.participant) this.applySnapshot({ legId: this.id, endpoint: info.endpoint, rtcpStats: this.rtcp, participant: info.participant });
  }

  /** @internal */
  applySnapshot(s: LegSnapshot): void {
    if (this.closed) return;
    if (s.endpoint) this.ep = s.endpoint;
    this.rtcp = s.rtcpStats;
    if (s.participant) {
      if (!this.participant) this.participant = { ...s.participant };
      else Object.assign(this.participant, s.participant);
      // What main asked for is the truth even before the thread's next snapshot says so.
      this.participant.muted = this.role.muted;
      this.participant.deaf = this.role.deaf;
    }
  }

  /** @internal */
  onThreadEvent(m: LegEvent): void {
    switch (m.type) {
      case 'leg.dtmf':
        return void this.emitDigit(m.event);
      case 'leg.talk':
        if (this.participant) this.participant.talking = m.talking;
        return void this.safeEmit('talk', m.talking);
      case 'leg.inboundssrc':
        return void this.safeEmit('inboundssrc', m.ssrc);
      case 'leg.mediatimeout':
        return void this.safeEmit('mediatimeout', m.seconds);
      case 'leg.closed':
        return this.close(m.reason);
    }
  }

  /** The thread applies the change; muted and deaf hold in the participant view at once. (SIP INFO DTMF is parsed on this side: nothing of it concerns the media thread.) */
  protected setRole(role: LegRole): void {
    if (role.muted !== undefined) {
      this.role.muted = role.muted;
      if (this.participant) this.participant.muted = role.muted;
    }
    if (role.deaf !== undefined) {
      this.role.deaf = role.deaf;
      if (this.participant) this.participant.deaf = role.deaf;
    }
    this.assertOpen();
    this.room.thread.send({ type: 'leg.role', roomId: this.room.id, legId: this.id, role });
  }
}

// A conference room: its mixer and its legs, each leg with its own RTP
// endpoint. The only factory of legs (createLeg for an incoming offer,
// createOutgoingLeg for a leg Parley calls).
import { randomUUID } from 'node:crypto';
import type { MediaConfig } from '../config/schema.ts';
import { componentLogger, type Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import type { CodecName } from '../mixer/codecs/audio-codec.ts';
import type { FrameSource, TickSink } from '../mixer/frames.ts';
import type { MixerParticipant, ParticipantMedia } from '../mixer/mixer-participant.ts';
import { RoomMixer } from '../mixer/room-mixer.ts';
import { MediaClosedError } from './media-errors.ts';
import { MediaTimeoutWatch, type MediaWatchClient } from './media-timeout-watch.ts';
import { LocalMediaLeg, type LegHost } from './media-leg.ts';
import type { CreateLegOptions, CreateOutgoingLegOptions, MediaRoom, MediaRoomCloseReason, MediaRoomEvents } from './media-api.ts';

export type { CreateLegOptions, CreateOutgoingLegOptions, MediaRoom, MediaRoomCloseReason, MediaRoomEvents } from './media-api.ts';
import type { PortAllocator } from './port-allocator.ts';
import { NativeUdp } from './native-udp.ts';
import { RtpEndpoint, type LatchMode, type SrtpContext } from './rtp-endpoint.ts';
import type { IpFamily, SrtpKey, SrtpSuite } from './sdp-types.ts';
import { RtcpSession } from './rtcp/index.ts';
import { generateSrtpKeyBase64, SrtpSession } from './srtp/index.ts';
import type { HubInputSink, HubPublisher, HubRoomSide } from './hub-publisher.ts';

export interface MediaRoomContext {
  ports: PortAllocator;
  /** The RTCP CNAME of this process's streams (RFC 7022: random, stable for the process). */
  cname: string;
  config: MediaConfig & { latching: LatchMode };
  log: Logger;
  roomClosed(room: LocalMediaRoom): void;
}

/** A room on the thread that owns it (the main thread with media.threads: 0, else a media thread). */
export class LocalMediaRoom extends TypedEmitter<MediaRoomEvents> implements MediaRoom, LegHost, HubRoomSide, MediaWatchClient {
  readonly id: string;
  readonly codecs: readonly CodecName[];
  private readonly legs = new Map<string, LocalMediaLeg>();
  private readonly inbandDtmf = new Set<string>();
  /** Legs created with recordOnlyMs, and that depth. */
  private readonly recordOnly = new Map<string, number>();
  private readonly mixer: RoomMixer;
  private closed = false;
  private closeReason: MediaRoomCloseReason = 'closed';
  /** media.rtpTimeoutSec in ms, and how often the thread's watch checks the legs (0: never). */
  private readonly timeoutMs: number;
  private readonly watchPeriodMs: number;
  private readonly log: Logger;
  // ---- room hub hook (hub-publisher.ts): null while the room has no hub, so a leg's packet costs one null test.
  private publisher: HubPublisher | null = null;

  /** @internal Use MediaEngine.createRoom(). */
  constructor(
    id: string,
    private readonly ctx: MediaRoomContext,
  ) {
    super(ctx.log);
    this.id = id;
    this.log = ctx.log;
    this.codecs = ctx.config.codecs as CodecName[];
    const m = ctx.config.mixer;
    this.mixer = new RoomMixer({ sampleRate: m.sampleRate, autoNarrowband: m.narrowband, jitterMinMs: m.jitterMinMs, jitterMaxMs: m.jitterMaxMs, log: componentLogger(this.log, 'mixer') });
    this.timeoutMs = ctx.config.rtpTimeoutSec * 1000;
    this.watchPeriodMs = this.timeoutMs > 0 ? Math.min(1000, this.timeoutMs / 2) : 0;
    // One timer per thread for every room's check (media-timeout-watch.ts).
    if (this.watchPeriodMs > 0) MediaTimeoutWatch.shared.add(this, this.watchPeriodMs);
  }

  /** @internal MediaWatchClient: the thread's watch checks the legs for RTP silence (media.rtpTimeoutSec). */
  checkMedia(nowMs: number): void {
    // A recording session's streams time out together: one quiet (its party on hold, muted with
    // DTX) while another flows is no SRC gone; all of them quiet is.
    let streams: LocalMediaLeg[] | null = null;
    let streamsMs = Infinity;
    for (const leg of this.legs.values()) {
      const s = leg.silence(nowMs);
      if (s?.recordOnly) {
        (streams ??= []).push(leg);
        streamsMs = Math.min(streamsMs, s.ms);
      } else leg.checkMediaTimeout(s?.ms ?? null, this.timeoutMs);
    }
    for (const leg of streams ?? []) leg.checkMediaTimeout(streamsMs, this.timeoutMs);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get closedBy(): MediaRoomCloseReason | null {
    return this.closed ? this.closeReason : null;
  }

  get size(): number {
    return this.legs.size;
  }

  leg(id: string): LocalMediaLeg | undefined {
    return this.legs.get(id);
  }

  get legIds(): string[] {
    return [...this.legs.keys()];
  }

  /** The room's PCM rate (what FrameSources must produce). */
  get mixerSampleRate(): number {
    return this.mixer.sampleRate;
  }

  /** The room's mixer clock and per-tick cost, for monitoring and the bench. */
  get mixerStats(): RoomMixer['clockStats'] {
    return this.mixer.clockStats;
  }

  /** Whether the room forwards its two legs to each other or mixes, and how much was forwarded. */
  get forwardStats(): RoomMixer['stats'] {
    return this.mixer.stats;
  }

  /**
   * A leg for an incoming offer. Resolves with the leg and our SDP answer;
   * rejects with SdpNegotiationError (→ 488) before anything is allocated
   * when the offer has no usable audio.
   */
  async createLeg(offer: string, options: CreateLegOptions = {}): Promise<{ leg: LocalMediaLeg; answer: string }> {
    const leg = this.newLeg(options);
    try {
      const answer = await leg.applyOffer(offer);
      this.assertOpen();
      return { leg, answer };
    } catch (err) {
      leg.close();
      throw err;
    }
  }

  /**
   * A leg Parley calls: resolves with our offer; give the answer to leg.applyAnswer().
   * The offer is IPv6 when `family` says the target is and IPv6 media is configured, else IPv4.
   */
  async createOutgoingLeg(options: CreateOutgoingLegOptions = {}): Promise<{ leg: LocalMediaLeg; offer: string }> {
    const leg = this.newLeg(options);
    try {
      const family: IpFamily = options.family === 6 && this.ipv6 ? 6 : 4;
      if (options.family === 6 && family === 4) this.log.info({ leg: leg.id }, 'the target is IPv6 but no IPv6 media address is configured (media.rtpIp6): offering IPv4');
      const offer = await leg.makeOffer(options.srtp ?? false, family);
      this.assertOpen();
      return { leg, offer };
    } catch (err) {
      leg.close();
      throw err;
    }
  }

  /** Plays a source to every leg (and into the recorded mix). */
  play(source: FrameSource): void {
    this.assertOpen();
    this.mixer.play(source);
  }

  addSink(sink: TickSink): void {
    this.assertOpen();
    this.mixer.addSink(sink);
  }

  removeSink(sink: TickSink): void {
    this.mixer.removeSink(sink);
  }

  async playOut(): Promise<void> {
    this.playOutNow();
  }

  /** @internal playOut() on the owning thread: the ticks run before this returns. */
  playOutNow(maxTicks = Infinity): number {
    if (this.closed) return 0;
    const ticks = this.mixer.playOut(maxTicks);
    if (ticks > 0) this.log.debug({ ticks }, 'legs played out to the recorders');
    return ticks;
  }

  /** Closes legs, then the mixer. Synchronous, idempotent; one 'close'. */
  close(reason: MediaRoomCloseReason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (this.watchPeriodMs > 0) MediaTimeoutWatch.shared.remove(this, this.watchPeriodMs);
    this.publisher?.close(); // room hub hook
    this.publisher = null;
    for (const leg of [...this.legs.values()]) leg.close('room-closed');
    this.mixer.close();
    this.ctx.roomClosed(this);
    this.log.info({ reason }, 'room closed');
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  // ---- LegHost: what legs may ask of their room ----

  get ipv6(): boolean {
    return this.ctx.config.rtpIp6 !== null;
  }

  async openEndpoint(leg: LocalMediaLeg, withRtcp: boolean, family: IpFamily, port?: number): Promise<RtpEndpoint> {
    this.assertOpen();
    const c = this.ctx.config;
    const ep = await RtpEndpoint.open({
      allocator: this.ctx.ports,
      family,
      announcedIp: family === 6 ? (c.announcedIp6 ?? c.rtpIp6!) : (c.announcedIp ?? c.rtpIp),
      latching: c.latching,
      withRtcp,
      port,
      log: this.log.child({ leg: leg.id }),
      io: c.nativeIo ? NativeUdp.forThread() : null,
      // room hub hook: the leg's packets also go to the hub while the room has one.
      onRtp: (pkt, nowMs) => {
        leg.onRtp(pkt, nowMs);
        if (this.publisher !== null) this.publisher.legRtp(leg.id, leg.media, pkt);
      },
      // (Not to the hub: a number that brings no frame is nothing to publish.)
      onSkip: leg.onRtp,
      onSsrc: leg.onSsrc,
    });
    if (this.closed) {
      ep.close();
      this.assertOpen();
    }
    return ep;
  }

  createSrtp(local: SrtpKey, remote: SrtpKey): SrtpContext {
    return new SrtpSession({ suite: remote.suite, sendKeyBase64: local.keyBase64, recvKeyBase64: remote.keyBase64, recvMki: remote.mki, sendMki: local.mki });
  }

  createRtcp(leg: LocalMediaLeg, clockRate: number): RtcpSession {
    return new RtcpSession({ localSsrc: leg.ssrc, cname: this.ctx.cname, clockRate });
  }

  newSrtpKey(suite: SrtpSuite, tag: number): SrtpKey {
    return { suite, tag, keyBase64: generateSrtpKeyBase64(suite) };
  }

  participantFor(leg: LocalMediaLeg, media: ParticipantMedia): MixerParticipant {
    // false (the socket is done with the packet) lets the leg's RtpOutput reuse its buffer.
    const send = (packet: Buffer): boolean => leg.endpoint?.send(packet) ?? false;
    // media.inbandDtmf 'auto': no detector until something wants the leg's digits (SipCall.wantDigits).
    const mode = this.inbandDtmf.has(leg.id) ? 'on' : this.ctx.config.inbandDtmf === 'always' ? 'auto' : 'off';
    return this.mixer.createParticipant(leg.id, media, send, mode, this.recordOnly.get(leg.id) ?? null);
  }

  legClosed(leg: LocalMediaLeg): void {
    if (this.legs.get(leg.id) !== leg) return;
    this.legs.delete(leg.id);
    this.inbandDtmf.delete(leg.id);
    this.recordOnly.delete(leg.id);
    this.safeEmit('legclose', leg);
  }

  // ---- room hub hook (room-hub.ts, hub-publisher.ts) ----

  /** @internal MediaEngine.hubFor(): the room's side of its new hub. */
  attachPublisher(p: HubPublisher): void {
    this.assertOpen();
    this.publisher?.close();
    this.publisher = p;
    p.attach(this);
  }

  /** @internal The hub closed (worker death, hub.close()): the room goes on without it. */
  detachPublisher(p: HubPublisher): void {
    if (this.publisher === p) this.publisher = null;
    p.close();
  }

  /**
   * @internal HubRoomSide: what a hub consumer sends (a browser) is heard in the
   * room like a leg; it is sent nothing unless the publisher gives it an output
   * (`send`, then `sending`): a browser participant's own mix-minus.
   */
  openHubInput(id: string, media: ParticipantMedia, send: (packet: Buffer) => void = () => undefined): HubInputSink {
    this.assertOpen();
    const p = this.mixer.createParticipant(id, media, send);
    p.sending = false;
    return p;
  }

  // ---- internals ----

  private newLeg(options: CreateLegOptions): LocalMediaLeg {
    this.assertOpen();
    const id = options.id ?? randomUUID();
    if (this.legs.has(id)) throw new Error(`leg ${id} already exists in room ${this.id}`);
    const leg = new LocalMediaLeg(id, this, this.log.child({ leg: id }));
    this.legs.set(id, leg);
    if (options.inbandDtmf) this.inbandDtmf.add(id);
    if (options.recordOnlyMs !== undefined) this.recordOnly.set(id, options.recordOnlyMs);
    return leg;
  }

  private assertOpen(): void {
    if (this.closed) throw new MediaClosedError(`room ${this.id} is closed (${this.closeReason})`);
  }
}

// A conference room: its Router(s) on one worker, its mixer, its legs. The
// only factory of legs (createLeg for an incoming offer, createOutgoingLeg
// for a leg Parley calls). Legs' audio reaches the mixer over one loopback
// UDP socket per Router (why: router-bridge.ts), demultiplexed by SSRC.
import dgram from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { types as ms } from 'mediasoup';
import type { MediaConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import type { CodecName } from '../mixer/codecs/audio-codec.ts';
import type { FrameSource, TickSink } from '../mixer/frames.ts';
import type { MixerParticipant, ParticipantMedia } from '../mixer/mixer-participant.ts';
import { RoomMixer } from '../mixer/room-mixer.ts';
import { LegTransport } from './leg-transport.ts';
import { MediaClosedError } from './media-errors.ts';
import { MediaLeg, type LegHost, type TransportSpec } from './media-leg.ts';
import { bridgeCodecs, carrierFor, DEFAULT_OPUS_PT, RouterBridge, routerMediaCodecs } from './router-bridge.ts';
import type { NegotiatedAudio } from './sdp-types.ts';
import type { SsrcDiscovery } from './ssrc-discovery.ts';
import type { WorkerPool } from './worker-pool.ts';

export type MediaRoomCloseReason = 'closed' | 'worker-died' | 'engine-closed';

export type MediaRoomEvents = {
  /** A leg closed (any reason): its room has forgotten it; the leg's own 'close' follows. */
  legclose: [leg: MediaLeg];
  /** Terminal, exactly once. */
  close: [reason: MediaRoomCloseReason];
};

export interface MediaRoomContext {
  pool: WorkerPool;
  discovery: SsrcDiscovery;
  config: MediaConfig;
  log: Logger;
  roomClosed(room: MediaRoom): void;
}

export interface CreateLegOptions {
  /** Defaults to a random UUID; call control usually passes the Call-ID. */
  id?: string;
  /** Run Goertzel DTMF detection even if telephone-event was negotiated. */
  inbandDtmf?: boolean;
}

export class MediaRoom extends TypedEmitter<MediaRoomEvents> implements LegHost {
  readonly id: string;
  readonly workerPid: number;
  readonly codecs: readonly CodecName[];
  private readonly bridges = new Map<number, Promise<RouterBridge>>();
  private readonly legs = new Map<string, MediaLeg>();
  /** Consumer SSRC (as packets reach the socket) → leg. */
  private readonly demux = new Map<number, MediaLeg>();
  private readonly inbandDtmf = new Set<string>();
  private readonly mixer: RoomMixer;
  private closed = false;
  private closeReason: MediaRoomCloseReason = 'closed';
  /** Checks the legs for RTP silence once a second (media.rtpTimeoutSec). */
  private readonly mediaWatch: NodeJS.Timeout | null;
  private readonly log: Logger;

  private constructor(
    id: string,
    private readonly worker: ms.Worker,
    private readonly ctx: MediaRoomContext,
  ) {
    super(ctx.log);
    this.id = id;
    this.workerPid = worker.pid;
    this.log = ctx.log;
    this.codecs = ctx.config.codecs as CodecName[];
    const m = ctx.config.mixer;
    this.mixer = new RoomMixer({ sampleRate: m.sampleRate, jitterMinMs: m.jitterMinMs, jitterMaxMs: m.jitterMaxMs, log: this.log.child({ component: 'mixer' }) });
    const timeoutMs = ctx.config.rtpTimeoutSec * 1000;
    this.mediaWatch =
      timeoutMs > 0
        ? setInterval(() => {
            const now = performance.now();
            for (const leg of this.legs.values()) leg.checkMediaTimeout(now, timeoutMs);
          }, Math.min(1000, timeoutMs / 2)).unref()
        : null;
  }

  /** @internal Use MediaEngine.createRoom(). */
  static async create(id: string, ctx: MediaRoomContext): Promise<MediaRoom> {
    const worker = ctx.pool.pick();
    const room = new MediaRoom(id, worker, ctx);
    try {
      await room.bridgeFor(DEFAULT_OPUS_PT);
    } catch (err) {
      room.close();
      throw err;
    }
    return room;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get size(): number {
    return this.legs.size;
  }

  leg(id: string): MediaLeg | undefined {
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

  /**
   * A leg for an incoming offer. Resolves with the leg and our SDP answer;
   * rejects with SdpNegotiationError (→ 488) before anything is allocated
   * when the offer has no usable audio.
   */
  async createLeg(offer: string, options: CreateLegOptions = {}): Promise<{ leg: MediaLeg; answer: string }> {
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

  /** A leg Parley calls: resolves with our offer; give the answer to leg.applyAnswer(). */
  async createOutgoingLeg(options: CreateLegOptions & { srtp?: boolean } = {}): Promise<{ leg: MediaLeg; offer: string }> {
    const leg = this.newLeg(options);
    try {
      const offer = await leg.makeOffer(options.srtp ?? false);
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

  /** Closes legs, then the mixer, the routers and the socket. Synchronous, idempotent; one 'close'. */
  close(reason: MediaRoomCloseReason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (this.mediaWatch) clearInterval(this.mediaWatch);
    const legReason = reason === 'worker-died' ? 'worker-died' : 'room-closed';
    for (const leg of [...this.legs.values()]) leg.close(legReason);
    this.mixer.close();
    for (const p of this.bridges.values()) {
      p.then((b) => b.close()).catch(() => {});
    }
    this.bridges.clear();
    this.ctx.roomClosed(this);
    this.log.info({ reason }, 'room closed');
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  // ---- LegHost: what legs may ask of their room ----

  async buildTransport(leg: MediaLeg, spec: TransportSpec): Promise<LegTransport> {
    this.assertOpen();
    const bridge = await this.bridgeFor(spec.opusPt);
    this.assertOpen();
    const c = this.ctx.config;
    return LegTransport.create({
      bridge,
      rtcpMux: spec.rtcpMux,
      srtp: spec.srtp,
      listenIp: c.rtpIp,
      announcedIp: c.announcedIp,
      portRange: c.rtpPortRange,
      port: spec.port,
      latching: c.latching,
      mixSsrc: leg.mixSsrc,
      onInboundSsrc: (ssrc, peerSsrc) => {
        if (leg.isClosed) return;
        this.demux.set(ssrc, leg);
        leg.safeEmit('inboundssrc', peerSsrc);
      },
      onInboundSsrcGone: (ssrc) => {
        if (this.demux.get(ssrc) === leg) this.demux.delete(ssrc);
      },
      log: this.log.child({ leg: leg.id }),
    });
  }

  participantFor(leg: MediaLeg, media: ParticipantMedia): MixerParticipant {
    const send = (packet: Buffer): void => {
      const t = leg.transport;
      if (t && !t.isClosed && !this.closed) t.bridge.send(packet);
    };
    return this.mixer.createParticipant(leg.id, media, send, this.inbandDtmf.has(leg.id));
  }

  mediaFor(leg: MediaLeg, n: NegotiatedAudio, t: LegTransport): ParticipantMedia {
    const b = t.bridge;
    return {
      codec: n.codec,
      audioPt: b.routerPt(n.codec),
      dtmfPt: n.dtmf ? b.routerPt(carrierFor(n.codec)) : null,
      dtmfClock: n.dtmf?.clock ?? 8000,
      sendPt: b.routerPt(n.codec),
      sendSsrc: leg.mixSsrc,
    };
  }

  legClosed(leg: MediaLeg): void {
    if (this.legs.get(leg.id) !== leg) return;
    this.legs.delete(leg.id);
    this.inbandDtmf.delete(leg.id);
    for (const [ssrc, l] of this.demux) if (l === leg) this.demux.delete(ssrc);
    this.ctx.discovery.untrack(this.workerPid, leg);
    this.safeEmit('legclose', leg);
  }

  // ---- internals ----

  private newLeg(options: CreateLegOptions): MediaLeg {
    this.assertOpen();
    const id = options.id ?? randomUUID();
    if (this.legs.has(id)) throw new Error(`leg ${id} already exists in room ${this.id}`);
    const leg = new MediaLeg(id, this, this.log.child({ leg: id }));
    this.legs.set(id, leg);
    if (options.inbandDtmf) this.inbandDtmf.add(id);
    this.ctx.discovery.track(this.workerPid, leg);
    return leg;
  }

  private bridgeFor(opusPt: number): Promise<RouterBridge> {
    let p = this.bridges.get(opusPt);
    if (!p) {
      p = this.makeBridge(opusPt);
      this.bridges.set(opusPt, p);
      p.catch(() => this.bridges.delete(opusPt));
    }
    return p;
  }

  private async makeBridge(opusPt: number): Promise<RouterBridge> {
    const codecs = bridgeCodecs(opusPt);
    const router = await this.ctx.pool.createRouter(routerMediaCodecs(codecs), { room: this.id }, this.worker);
    if (this.closed) {
      router.close();
      throw new MediaClosedError(`room ${this.id} is closed`);
    }
    router.on('workerclose', () => this.close('worker-died'));
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    socket.on('message', this.onPacket);
    socket.on('error', (err) => this.log.error({ err }, 'mixer socket error'));
    let bridge: RouterBridge | null = null;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const mixerTransport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
      await mixerTransport.connect({ ip: '127.0.0.1', port: socket.address().port });
      await new Promise<void>((resolve) => socket.connect(mixerTransport.tuple.localPort, '127.0.0.1', resolve));
      bridge = new RouterBridge(router, mixerTransport, codecs, socket);
    } catch (err) {
      router.close();
      socket.close();
      throw err;
    }
    if (this.closed) {
      bridge.close();
      throw new MediaClosedError(`room ${this.id} is closed`);
    }
    return bridge;
  }

  private readonly onPacket = (buf: Buffer): void => {
    if (buf.length < 12) return;
    const pt = buf[1] & 0x7f;
    if (pt >= 72 && pt <= 79) return; // RTCP from the mixer transport
    const leg = this.demux.get(buf.readUInt32BE(8));
    leg?.mixerParticipant?.pushRtp(buf, performance.now());
  };

  private assertOpen(): void {
    if (this.closed) throw new MediaClosedError(`room ${this.id} is closed (${this.closeReason})`);
  }
}

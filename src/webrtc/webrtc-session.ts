// One browser in a room, through the room's mediasoup hub: WebRtcTransports
// (ICE-lite, DTLS-SRTP) on the room's Router, one to receive and, unless the
// browser only listens, one to send (mediasoup-client's transports go one way
// each); at most one Producer (the browser's microphone, Opus) and at most
// one Consumer (what it hears). Made
// only by WebRtcSessions.create(); its role is fixed at creation and decides
// what the browser may do through the API (webrtc-roles.ts):
//   participant, barge  the microphone is heard by everyone (mixer input via
//                       hub.consume); the browser hears its own mix-minus
//                       (hub.produceInputMix); on the roster like a leg
//   whisper             the microphone is heard by one leg only; the browser hears the room's mix
//   listen              nothing is produced; the browser hears the room's mix
// A browser that goes away without saying so (tab killed, network gone) is
// found by its transport: ICE or DTLS closing or failing, or nothing received
// (RTP, RTCP, ICE consent checks) for webrtc.timeoutSec.
import { randomBytes } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { MediaRoom } from '../media-plane/media-room.ts';
import type { RoomHub } from '../media-plane/room-hub.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { WebRtcSessionError, type WebRtcRole } from './webrtc-roles.ts';

export type WebRtcCloseReason = 'closed' | 'room-closed' | 'hub-closed' | 'ice-disconnected' | 'dtls-failed' | 'dtls-closed' | 'timeout' | 'kicked' | 'signed-out' | 'shutdown';

/** Between a cluster node's id (`^[A-Za-z0-9_.-]+$`) and the random part of a session id: in neither alphabet, unreserved in a URL. */
const NODE_SEPARATOR = '~';

/**
 * The node a session id names (its prefix up to `~`), null for one without (Parley alone). In a
 * cluster any node then knows where a session lives from its id alone, whoever forwarded its POST.
 */
export function sessionNode(id: string): string | null {
  const at = id.lastIndexOf(NODE_SEPARATOR);
  return at > 0 ? id.slice(0, at) : null;
}

export type WebRtcSessionEvents = {
  /** Terminal, exactly once. */
  close: [reason: WebRtcCloseReason];
};

export interface WebRtcSessionOptions {
  role: WebRtcRole;
  roomName: string;
  /** The room's media (a session belongs to one room, not to a name that may be reused). */
  room: MediaRoom;
  hub: RoomHub;
  /** null for a listen session (it sends nothing). */
  sendTransport: ms.WebRtcTransport | null;
  recvTransport: ms.WebRtcTransport;
  /** The mixer input's id (the roster's leg id for participants). */
  legId: string;
  /** In a cluster, this node's id: the session id starts with it (sessionNode). */
  node?: string;
  /** whisper: the one leg that hears the browser. */
  targetLegId: string | null;
  /** No traffic from the browser this long closes the session (ms). */
  timeoutMs: number;
  isRoomClosed(): boolean;
  log: Logger;
  /** Tells the owner (WebRtcSessions) once, synchronously, from close(). */
  onClose(session: WebRtcSession, reason: WebRtcCloseReason): void;
}

export class WebRtcSession extends TypedEmitter<WebRtcSessionEvents> {
  /** 128 random bits (after `<node>~` in a cluster): the session's only name in the API. */
  readonly id: string;
  readonly role: WebRtcRole;
  readonly roomName: string;
  readonly room: MediaRoom;
  readonly legId: string;
  readonly targetLegId: string | null;
  readonly createdAt = new Date();
  private readonly hub: RoomHub;
  private readonly sendTransport: ms.WebRtcTransport | null;
  private readonly recvTransport: ms.WebRtcTransport;
  private readonly connected = new Set<string>();
  private producer: ms.Producer | null = null;
  private inputConsumer: ms.Consumer | null = null;
  private outputProducer: ms.Producer | null = null;
  private consumer: ms.Consumer | null = null;
  private producing = false;
  private consuming = false;
  private muted = false;
  /** Checks the transport's received bytes (the browser's liveness) every second. */
  private watch: NodeJS.Timeout | null = null;
  private lastBytes = -1;
  private lastTrafficMs = performance.now();
  private closed = false;
  private closeReason: WebRtcCloseReason | null = null;
  private readonly log: Logger;

  /** @internal Use WebRtcSessions.create(). */
  constructor(private readonly opts: WebRtcSessionOptions) {
    super(opts.log);
    const random = randomBytes(16).toString('base64url');
    this.id = opts.node ? `${opts.node}${NODE_SEPARATOR}${random}` : random;
    this.role = opts.role;
    this.roomName = opts.roomName;
    this.room = opts.room;
    this.legId = opts.legId;
    this.targetLegId = opts.targetLegId;
    this.hub = opts.hub;
    this.sendTransport = opts.sendTransport;
    this.recvTransport = opts.recvTransport;
    this.log = opts.log;
    for (const t of this.transports) {
      t.on('icestatechange', (st) => {
        // ICE-lite: 'disconnected' is mediasoup's consent timeout (no STUN from the browser).
        if (st === 'disconnected' || st === 'closed') this.close('ice-disconnected');
      });
      t.on('dtlsstatechange', (st) => {
        if (st === 'failed') this.close('dtls-failed');
        else if (st === 'closed') this.close('dtls-closed'); // the browser closed its RTCPeerConnection (close_notify)
      });
      // The Router closed (the room or its hub went, the worker died): so did the transport.
      t.observer.once('close', () => this.close(opts.isRoomClosed() ? 'room-closed' : this.hub.isClosed ? 'hub-closed' : 'closed'));
    }
    this.watch = setInterval(() => this.checkTraffic(), 1000);
    this.watch.unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** What mediasoup-client's createSendTransport (null: listen) and createRecvTransport need. */
  get transportParameters(): { send: TransportParameters | null; recv: TransportParameters } {
    return { send: this.sendTransport ? parameters(this.sendTransport) : null, recv: parameters(this.recvTransport) };
  }

  /** The room hub's events (a participant's voice activity), for its owner. */
  get hubEvents(): Pick<RoomHub, 'on' | 'off'> {
    return this.hub;
  }

  get routerRtpCapabilities(): ms.RtpCapabilities {
    return this.hub.router.rtpCapabilities;
  }

  /** For the API's GET and the console. */
  describe(): Record<string, unknown> {
    const t = this.recvTransport;
    return {
      sessionId: this.id,
      role: this.role,
      room: this.roomName,
      legId: this.legId,
      targetLegId: this.targetLegId,
      createdAt: this.createdAt.toISOString(),
      iceState: t.closed ? 'closed' : t.iceState,
      dtlsState: t.closed ? 'closed' : t.dtlsState,
      producing: this.producer !== null,
      consuming: this.consumer !== null,
      muted: this.muted,
    };
  }

  async connect(transportId: string, dtlsParameters: ms.DtlsParameters): Promise<void> {
    this.assertOpen();
    const t = this.transports.find((x) => x.id === transportId);
    if (!t) throw new WebRtcSessionError(404, 'not_found', `no transport '${transportId}' in this session`);
    if (this.connected.has(t.id)) throw new WebRtcSessionError(409, 'conflict', 'the transport is already connected');
    this.connected.add(t.id);
    try {
      await t.connect({ dtlsParameters });
    } catch (err) {
      this.connected.delete(t.id);
      this.assertOpen();
      throw new WebRtcSessionError(400, 'bad_request', `body.dtlsParameters: ${(err as Error).message}`, 'body.dtlsParameters');
    }
  }

  /** The browser's microphone. participant/barge: heard by everyone; whisper: by the target leg only. */
  async produce(kind: string, rtpParameters: ms.RtpParameters): Promise<string> {
    this.assertOpen();
    const send = this.sendTransport;
    if (this.role === 'listen' || !send) throw new WebRtcSessionError(403, 'forbidden', 'a listen session sends no audio');
    if (kind !== 'audio') throw new WebRtcSessionError(400, 'bad_request', 'body.kind: must be audio', 'body.kind');
    if (this.producing) throw new WebRtcSessionError(409, 'conflict', 'the session already produces');
    // The mixer sends an input its mix-minus in the input's own codec, and the hub's output is Opus.
    const mimeType: unknown = rtpParameters.codecs?.[0]?.mimeType;
    if (typeof mimeType !== 'string' || mimeType.toLowerCase() !== 'audio/opus') {
      throw new WebRtcSessionError(400, 'bad_request', 'body.rtpParameters.codecs: a browser sends Opus', 'body.rtpParameters.codecs');
    }
    this.producing = true;
    let producer: ms.Producer;
    try {
      producer = await send.produce({ kind: 'audio', rtpParameters, appData: { session: this.id } });
    } catch (err) {
      this.producing = false;
      this.assertOpen();
      throw new WebRtcSessionError(400, 'bad_request', `body.rtpParameters: ${(err as Error).message}`, 'body.rtpParameters');
    }
    if (this.closed) {
      producer.close();
      this.assertOpen();
    }
    this.producer = producer;
    const audience = this.role === 'whisper' && this.targetLegId ? [this.targetLegId] : null;
    await this.unlessClosedMeanwhile(async () => {
      this.inputConsumer = await this.hub.consume(producer.id, this.legId, { audience });
      if (this.muted) this.hub.updateInput(this.legId, { muted: true });
      if (this.role === 'participant' || this.role === 'barge') {
        const out = await this.hub.produceInputMix(this.legId);
        if (this.closed) {
          out.close();
          this.assertOpen();
        }
        this.outputProducer = out;
      }
    });
    this.log.info({ producer: producer.id, codec: producer.rtpParameters.codecs[0]?.mimeType }, 'browser produces');
    return producer.id;
  }

  /**
   * What the browser hears: its own mix-minus (participant, barge; produce
   * first), or the room's mix (listen, whisper).
   */
  async consume(rtpCapabilities: ms.RtpCapabilities): Promise<{ id: string; producerId: string; kind: 'audio'; rtpParameters: ms.RtpParameters }> {
    this.assertOpen();
    if (this.consuming) throw new WebRtcSessionError(409, 'conflict', 'the session already consumes');
    const source = this.role === 'participant' || this.role === 'barge' ? this.outputProducer : this.hub.mixProducer;
    if (!source) throw new WebRtcSessionError(409, 'conflict', 'a participant produces first: its mix-minus is made from its microphone');
    let can: boolean;
    try {
      can = this.hub.router.canConsume({ producerId: source.id, rtpCapabilities });
    } catch (err) {
      // mediasoup validates (and clones) what it is given: a shape it cannot take, nested past its stack.
      throw new WebRtcSessionError(400, 'bad_request', `body.rtpCapabilities: ${(err as Error).message}`, 'body.rtpCapabilities');
    }
    if (!can) throw new WebRtcSessionError(400, 'bad_request', 'body.rtpCapabilities: the browser cannot receive Opus', 'body.rtpCapabilities');
    this.consuming = true;
    const consumer = await this.unlessClosedMeanwhile(() => this.recvTransport.consume({ producerId: source.id, rtpCapabilities, appData: { session: this.id } }));
    if (this.closed) {
      consumer.close();
      this.assertOpen();
    }
    this.consumer = consumer;
    return { id: consumer.id, producerId: source.id, kind: 'audio', rtpParameters: consumer.rtpParameters };
  }

  /** Mutes the browser's microphone in the room (the console's mute; the browser cannot undo it). */
  setMuted(muted: boolean): void {
    this.assertOpen();
    this.muted = muted;
    if (this.inputConsumer && !this.inputConsumer.closed) this.hub.updateInput(this.legId, { muted });
  }

  get isMuted(): boolean {
    return this.muted;
  }

  /** Closes the transport (and so its producer and consumer; the mixer input goes with the hub's consumer). Synchronous, idempotent. */
  close(reason: WebRtcCloseReason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (this.watch) clearInterval(this.watch);
    this.watch = null;
    this.outputProducer?.close();
    this.inputConsumer?.close();
    for (const t of this.transports) t.close();
    this.producer = null;
    this.consumer = null;
    this.outputProducer = null;
    this.inputConsumer = null;
    this.log.info({ reason }, 'browser session closed');
    this.opts.onClose(this, reason);
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  /** Nothing from the browser (RTP, RTCP, STUN) for the timeout: it is gone. */
  private checkTraffic(): void {
    if (this.closed) return;
    // Bytes of a transport ICE has not connected are anyone's (junk to its port): they prove no browser.
    const live = this.transports.filter((t) => !t.closed && (t.iceState === 'connected' || t.iceState === 'completed'));
    Promise.all(live.map((t) => t.getStats())).then(
      (all) => {
        const bytes = all.reduce((n, stats) => n + stats.reduce((m, s) => m + s.bytesReceived, 0), 0);
        const now = performance.now();
        if (bytes !== this.lastBytes) {
          this.lastBytes = bytes;
          this.lastTrafficMs = now;
        } else if (now - this.lastTrafficMs >= this.opts.timeoutMs) {
          this.log.info({ seconds: Math.round((now - this.lastTrafficMs) / 1000) }, 'nothing from the browser: closing its session');
          this.close('timeout');
        }
      },
      () => undefined, // the transport closed meanwhile: its observer closes the session
    );
  }

  /** A step of produce or consume: when the session closed while it ran (DELETE, the room), what failed of it is that, a 404. */
  private async unlessClosedMeanwhile<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      this.assertOpen();
      throw err;
    }
  }

  private get transports(): ms.WebRtcTransport[] {
    return this.sendTransport ? [this.sendTransport, this.recvTransport] : [this.recvTransport];
  }

  private assertOpen(): void {
    if (this.closed) throw new WebRtcSessionError(404, 'not_found', `session closed (${this.closeReason ?? 'closed'})`);
  }
}

export interface TransportParameters {
  id: string;
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

function parameters(t: ms.WebRtcTransport): TransportParameters {
  return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
}

// A room's mediasoup hub (main thread: mediasoup's channel does not work in
// worker threads). Made on demand by MediaEngine.hubFor() when something needs
// the room's audio in mediasoup (a browser, a pipe to another worker or host,
// an external consumer): a Router on the least loaded worker; one
// PlainTransport that receives what the room publishes, with a Producer per
// stream under an SSRC Parley chose (the mix; each leg), so mediasoup never
// has to discover an SSRC; and one PlainTransport whose Consumers send the
// room what others produce (browsers), their SSRCs read from the Consumer's
// rtpParameters. The room's side is a HubPublisher (hub-publisher.ts).
import { randomInt } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { CODECS, codecByName, type CodecName } from '../mixer/codecs/audio-codec.ts';
import { MediaClosedError } from './media-errors.ts';
import { HUB_MIX_CODEC, type HubInputChange, type HubLink, type HubPublisherControl } from './hub-publisher.ts';
import type { WorkerPool } from './worker-pool.ts';

export type RoomHubCloseReason = 'closed' | 'room-closed' | 'worker-died' | 'engine-closed';

export type RoomHubEvents = {
  /** A leg's stream is in the Router (first audio from the leg, or a new codec): consume it by this Producer. */
  legproducer: [legId: string, producer: ms.Producer];
  /** An input brought in by consume() (a browser) started or stopped talking. */
  inputtalk: [id: string, talking: boolean];
  /** Terminal, exactly once. The room goes on without a hub. */
  close: [reason: RoomHubCloseReason];
};

export interface RoomHubOptions {
  roomId: string;
  pool: WorkerPool;
  /** The room's codecs; Opus is always added (browsers, and the mix). */
  codecs: readonly CodecName[];
  /** Where the hub's transports listen (and the publisher's socket is). */
  listenIp: string;
  /** The room's side: where its socket is, and how to tell it things. */
  publisherAddress: { ip: string; port: number };
  publisher: HubPublisherControl;
  cname: string;
  log: Logger;
}

/** A Router payload type per codec (mediasoup's static ones for G.711/G.722, 111 for Opus as SIP phones and browsers use). */
const HUB_PT: Record<CodecName, number> = { opus: 111, PCMU: 0, PCMA: 8, G722: 9 };

function routerCodec(c: CodecName): ms.RouterRtpCodecCapability {
  const info = CODECS[c];
  const mimeType = `audio/${c === 'opus' ? 'opus' : c}`;
  const clockRate = c === 'opus' ? 48000 : info.rtpClock;
  return { kind: 'audio', mimeType, clockRate, preferredPayloadType: HUB_PT[c], ...(info.sdpChannels > 1 ? { channels: info.sdpChannels } : {}) };
}

function producerParameters(c: CodecName, ssrc: number, cname: string): ms.RtpParameters {
  const rc = routerCodec(c);
  return {
    codecs: [{ mimeType: rc.mimeType, payloadType: HUB_PT[c], clockRate: rc.clockRate, ...(rc.channels ? { channels: rc.channels } : {}), parameters: {}, rtcpFeedback: [] }],
    encodings: [{ ssrc }],
    headerExtensions: [],
    rtcp: { cname, reducedSize: true },
  };
}

export class RoomHub extends TypedEmitter<RoomHubEvents> {
  readonly roomId: string;
  readonly link: HubLink;
  private readonly legProducers = new Map<string, ms.Producer>();
  /** Bumped per request, so that a late answer for an older codec is dropped. */
  private readonly legRequests = new Map<string, number>();
  /** Consumers of our own producers, per producer id: a stream is sent only while it has one. */
  private readonly consumed = new Map<string, number>();
  private readonly usedSsrcs = new Set<number>();
  private closed = false;
  private readonly log: Logger;

  private constructor(
    readonly router: ms.Router,
    private readonly ingest: ms.PlainTransport,
    private readonly egress: ms.PlainTransport,
    readonly mixProducer: ms.Producer,
    private readonly opts: RoomHubOptions,
  ) {
    super(opts.log);
    this.log = opts.log;
    this.roomId = opts.roomId;
    const payloadTypes: Partial<Record<CodecName, number>> = {};
    for (const c of router.rtpCapabilities.codecs ?? []) {
      const name = codecByName(c.mimeType.replace(/^audio\//, ''));
      if (name && c.preferredPayloadType !== undefined) payloadTypes[name.name] = c.preferredPayloadType;
    }
    this.link = {
      ip: ingest.tuple.localAddress,
      port: ingest.tuple.localPort,
      egressPort: egress.tuple.localPort,
      mixSsrc: mixProducer.rtpParameters.encodings?.[0]?.ssrc ?? 0,
      payloadTypes,
    };
    router.on('workerclose', () => this.close('worker-died'));
    router.observer.on('newtransport', (t) => t.observer.on('newconsumer', this.onConsumer));
  }

  /** @internal Use MediaEngine.hubFor(). */
  static async create(opts: RoomHubOptions): Promise<RoomHub> {
    const codecs = [...new Set<CodecName>(['opus', ...opts.codecs])].map(routerCodec);
    const router = await opts.pool.createRouter(codecs, { roomId: opts.roomId });
    try {
      const listenInfo: ms.TransportListenInfo = { protocol: 'udp', ip: opts.listenIp };
      // comedia off: both transports talk to the publisher's socket only, as connect() names it.
      const ingest = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, appData: { role: 'ingest' } });
      await ingest.connect(opts.publisherAddress);
      const egress = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, appData: { role: 'egress' } });
      await egress.connect(opts.publisherAddress);
      const mixSsrc = randomInt(1, 0xffffffff);
      const mix = await ingest.produce({ kind: 'audio', rtpParameters: producerParameters(HUB_MIX_CODEC, mixSsrc, opts.cname), appData: { stream: 'mix' } });
      const hub = new RoomHub(router, ingest, egress, mix, opts);
      hub.usedSsrcs.add(mixSsrc);
      hub.log.info({ router: router.id, ingestPort: hub.link.port, egressPort: hub.link.egressPort }, 'room hub open');
      return hub;
    } catch (err) {
      router.close();
      throw err;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The Producer of a leg's stream, once the leg has sent audio. */
  legProducer(legId: string): ms.Producer | undefined {
    return this.legProducers.get(legId);
  }

  /**
   * Makes (or remakes, on a new codec) the Producer of a leg's stream under an
   * SSRC chosen here, then tells the room's side. Called when the publisher
   * asks (the leg's first audio).
   */
  async publishLeg(legId: string, codec: CodecName): Promise<void> {
    this.assertOpen();
    const request = (this.legRequests.get(legId) ?? 0) + 1;
    this.legRequests.set(legId, request);
    this.legProducers.get(legId)?.close();
    this.legProducers.delete(legId);
    const ssrc = this.newSsrc();
    const producer = await this.ingest.produce({ kind: 'audio', rtpParameters: producerParameters(codec, ssrc, this.opts.cname), appData: { stream: 'leg', legId } });
    if (this.closed || this.legRequests.get(legId) !== request) {
      producer.close();
      this.usedSsrcs.delete(ssrc);
      return;
    }
    producer.observer.once('close', () => this.usedSsrcs.delete(ssrc));
    this.legProducers.set(legId, producer);
    this.opts.publisher.setLeg(legId, { codec, ssrc, pt: HUB_PT[codec] });
    this.safeEmit('legproducer', legId, producer);
  }

  /** The leg left the room: its Producer goes (and with it, its consumers). */
  unpublishLeg(legId: string): void {
    this.legRequests.delete(legId);
    this.legProducers.get(legId)?.close();
    this.legProducers.delete(legId);
    if (!this.closed) this.opts.publisher.setLeg(legId, null);
  }

  /**
   * Brings a Producer on this Router (a browser's, a pipe's) into the room as
   * an input named `id`: a Consumer on the egress transport sends it to the
   * room's socket under the SSRC and payload type mediasoup gives it.
   */
  async consume(producerId: string, id = `hub:${producerId}`, options: { audience?: readonly string[] | null } = {}): Promise<ms.Consumer> {
    this.assertOpen();
    const rtpCapabilities: ms.RtpCapabilities = { codecs: this.router.rtpCapabilities.codecs, headerExtensions: [] };
    if (!this.router.canConsume({ producerId, rtpCapabilities })) throw new Error(`the room cannot consume producer ${producerId}`);
    // Paused until the room knows the SSRC, so that no packet arrives unnamed.
    const consumer = await this.egress.consume({ producerId, rtpCapabilities, paused: true, appData: { inputId: id } });
    if (this.closed) {
      consumer.close();
      throw new MediaClosedError('room hub closed while consuming');
    }
    const codec = consumer.rtpParameters.codecs[0];
    const name = codecByName(codec.mimeType.replace(/^audio\//, ''));
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (!name || ssrc === undefined) {
      consumer.close();
      throw new Error(`the room cannot decode ${codec.mimeType}`);
    }
    this.opts.publisher.addInput({ id, codec: name.name, ssrc, pt: codec.payloadType, ...(options.audience ? { audience: options.audience } : {}) });
    consumer.observer.once('close', () => {
      if (!this.closed) this.opts.publisher.removeInput(id);
    });
    await consumer.resume();
    return consumer;
  }

  /**
   * The input `id` (brought in by consume()) hears the room: the mixer sends
   * it its own mix (the room minus its voice, plus what is said to it only),
   * Opus, under an SSRC chosen here, into a Producer that a browser consumes.
   * Closing the Producer stops the encoding.
   */
  async produceInputMix(id: string): Promise<ms.Producer> {
    this.assertOpen();
    const ssrc = this.newSsrc();
    let producer: ms.Producer;
    try {
      producer = await this.ingest.produce({ kind: 'audio', rtpParameters: producerParameters(HUB_MIX_CODEC, ssrc, this.opts.cname), appData: { stream: 'input-mix', inputId: id } });
    } catch (err) {
      this.usedSsrcs.delete(ssrc);
      throw err;
    }
    if (this.closed) {
      producer.close();
      throw new MediaClosedError('room hub closed while producing an input\'s mix');
    }
    producer.observer.once('close', () => {
      this.usedSsrcs.delete(ssrc);
      if (!this.closed) this.opts.publisher.setInputOutput(id, null);
    });
    this.opts.publisher.setInputOutput(id, { ssrc, pt: HUB_PT[HUB_MIX_CODEC] });
    return producer;
  }

  /** @internal The room's side says an input's voice activity changed (MediaEngine wires it). */
  inputTalking(id: string, talking: boolean): void {
    if (!this.closed) this.safeEmit('inputtalk', id, talking);
  }

  /** Mutes an input, or changes who hears it (null: everyone). */
  updateInput(id: string, change: HubInputChange): void {
    this.assertOpen();
    this.opts.publisher.updateInput(id, change);
  }

  /** Closes the Router (and so its transports, producers, consumers). Synchronous, idempotent; one 'close'. */
  close(reason: RoomHubCloseReason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.legProducers.clear();
    this.legRequests.clear();
    this.consumed.clear();
    this.router.close();
    this.log.info({ reason }, 'room hub closed');
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  private readonly onConsumer = (consumer: ms.Consumer): void => {
    const pid = consumer.producerId;
    const stream = this.streamOf(pid);
    if (stream === undefined) return;
    const n = (this.consumed.get(pid) ?? 0) + 1;
    this.consumed.set(pid, n);
    if (n === 1) this.setConsumed(stream, true);
    consumer.observer.once('close', () => {
      if (this.closed) return;
      const left = (this.consumed.get(pid) ?? 1) - 1;
      if (left > 0) {
        this.consumed.set(pid, left);
        return;
      }
      this.consumed.delete(pid);
      // Still the leg's producer? (A codec change replaced it: the new one starts unconsumed.)
      if (stream === null || this.legProducers.get(stream)?.id === pid) this.setConsumed(stream, false);
    });
  };

  /** A leg id, null for the mix, undefined for a producer that is not the room's. */
  private streamOf(producerId: string): string | null | undefined {
    if (producerId === this.mixProducer.id) return null;
    for (const [legId, p] of this.legProducers) if (p.id === producerId) return legId;
    return undefined;
  }

  private setConsumed(stream: string | null, on: boolean): void {
    if (stream === null) this.opts.publisher.setMixConsumed(on);
    else this.opts.publisher.setLegConsumed(stream, on);
  }

  private newSsrc(): number {
    let s: number;
    do s = randomInt(1, 0xffffffff);
    while (this.usedSsrcs.has(s));
    this.usedSsrcs.add(s);
    return s;
  }

  private assertOpen(): void {
    if (this.closed) throw new MediaClosedError(`room hub ${this.roomId} is closed`);
  }
}

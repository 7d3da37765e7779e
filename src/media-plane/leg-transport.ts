// The mediasoup side of one leg: its PlainTransport facing the SIP peer, one
// Producer per SSRC the peer sends (audio and telephone-event on one SSRC or
// several), each consumed into the room's mixer transport, and the Consumer
// that carries this leg's mix to the peer with one stable SSRC.
//
// SIP peers rarely announce their SSRC, and mediasoup routes only known SSRCs
// (RtpListener looks up SSRC, then MID, then RID), so the producers are made
// on demand: from a=ssrc when present, else when SsrcDiscovery learns an
// unknown SSRC from the worker's 'rtp' warning. Packets before that are lost
// (a few ms at the start of a stream).
import type { types as ms } from 'mediasoup';
import type { Logger } from '../util/logger.ts';
import { carrierFor, codecParameters, type RouterBridge } from './router-bridge.ts';
import type { LocalAudio, NegotiatedAudio, SrtpSuite } from './sdp-types.ts';

const PRUNE_EVERY_MS = 10_000;
const PRUNE_AFTER_MS = 5_000;

export interface LegTransportOptions {
  bridge: RouterBridge;
  rtcpMux: boolean;
  /** SRTP suite and a=crypto tag, when the stream is RTP/SAVP. */
  srtp: { suite: SrtpSuite; tag: number } | null;
  listenIp: string;
  announcedIp: string | null;
  portRange: { min: number; max: number };
  /** Port to reuse (re-offer), when free. */
  port?: number;
  latching: boolean;
  /** SSRC the mixer writes on this leg's mix. */
  mixSsrc: number;
  /** Called with the peer's SSRC and the consumer SSRC under which its packets reach the mixer. */
  onInboundSsrc: (consumerSsrc: number, peerSsrc: number) => void;
  /** Called when that consumer goes away. */
  onInboundSsrcGone: (consumerSsrc: number) => void;
  log: Logger;
}

export class LegTransport {
  readonly transport: ms.PlainTransport;
  private readonly producers = new Map<number, { producer: ms.Producer; consumer: ms.Consumer; firstPt: number; createdAt: number }>();
  /** Prunes producers made for SSRCs that never came here (discovery ties). */
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<number>();
  private mixProducer: ms.Producer | null = null;
  private mixConsumer: ms.Consumer | null = null;
  private closed = false;
  private negotiated: NegotiatedAudio | null = null;
  /** SsrcDiscovery's bookkeeping: unrouted bytes at its previous pass, and when they last grew. */
  lastUnrouted = 0;
  lastGrowthAt = -Infinity;
  firstGrowthAt: number | undefined = undefined;

  private constructor(
    private readonly opts: LegTransportOptions,
    transport: ms.PlainTransport,
  ) {
    this.transport = transport;
  }

  /** Opens the transport; start() connects it once the peer's SDP is known. */
  static async create(opts: LegTransportOptions): Promise<LegTransport> {
    const listenInfo: ms.TransportListenInfo = {
      protocol: 'udp',
      ip: opts.listenIp,
      ...(opts.announcedIp ? { announcedAddress: opts.announcedIp } : {}),
      ...(opts.port ? { port: opts.port } : { portRange: opts.portRange }),
    };
    const base = {
      rtcpMux: opts.rtcpMux,
      comedia: opts.latching,
      ...(opts.srtp ? { enableSrtp: true, srtpCryptoSuite: opts.srtp.suite } : {}),
    };
    let transport: ms.PlainTransport;
    try {
      transport = await opts.bridge.router.createPlainTransport({ listenInfo, ...base });
    } catch (err) {
      if (!opts.port) throw err;
      // The old port was not free: any port in the range will do.
      transport = await opts.bridge.router.createPlainTransport({ listenInfo: { ...listenInfo, port: undefined, portRange: opts.portRange }, ...base });
    }
    return new LegTransport(opts, transport);
  }

  get local(): LocalAudio {
    const t = this.transport;
    const srtp = this.opts.srtp;
    const localSrtp = srtp && t.srtpParameters ? { tag: srtp.tag, suite: srtp.suite, keyBase64: t.srtpParameters.keyBase64 } : null;
    return {
      ip: this.opts.announcedIp ?? t.tuple.localAddress ?? this.opts.listenIp,
      port: t.tuple.localPort,
      rtcpPort: this.opts.rtcpMux ? null : (t.rtcpTuple?.localPort ?? null),
      srtp: localSrtp,
    };
  }

  get bridge(): RouterBridge {
    return this.opts.bridge;
  }

  /** The worker's counters: bytes no producer took (unknown SSRC), and RTP bytes producers took. */
  async traffic(): Promise<{ unrouted: number; routed: number }> {
    const [s] = await this.transport.getStats();
    return s ? { unrouted: s.bytesReceived - s.rtpBytesReceived, routed: s.rtpBytesReceived } : { unrouted: 0, routed: 0 };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get ssrcs(): number[] {
    return [...this.producers.keys()];
  }

  /** Starts or stops sending this leg its mix (hold). */
  async setSending(on: boolean): Promise<void> {
    if (!this.mixConsumer || this.closed) return;
    if (on) await this.mixConsumer.resume();
    else await this.mixConsumer.pause();
  }

  /**
   * Creates the producer for an SSRC the peer sends, once. `firstPt` is the
   * payload type seen first on it: mediasoup creates a Producer's stream only
   * on a packet of the encoding's codec, so a stream that starts with
   * telephone-event (DTMF on its own SSRC) gets that codec first.
   */
  async addRemoteSsrc(ssrc: number, firstPt?: number): Promise<void> {
    const n = this.negotiated;
    // Not negotiated yet: nothing to produce with (and the SSRC must stay open to a later pass).
    if (this.closed || !n || this.producers.has(ssrc) || this.pending.has(ssrc)) return;
    this.pending.add(ssrc);
    const b = this.opts.bridge;
    try {
      const codecs = [codecParameters(n.codec, n.recvPt)];
      if (n.dtmf) {
        const carrier = codecParameters(carrierFor(n.codec), n.dtmf.recvPt);
        if (firstPt === n.dtmf.recvPt) codecs.unshift(carrier);
        else codecs.push(carrier);
      }
      const first = codecs[0].payloadType;
      const producer = await this.transport.produce({ kind: 'audio', rtpParameters: { codecs, encodings: [{ ssrc }] } });
      if (this.closed) {
        release(producer, this.transport);
        return;
      }
      const consumer = await b.mixerTransport.consume({ producerId: producer.id, rtpCapabilities: b.consumeCaps });
      if (this.closed) {
        release(consumer, b.mixerTransport);
        release(producer, this.transport);
        return;
      }
      this.producers.set(ssrc, { producer, consumer, firstPt: first, createdAt: Date.now() });
      if (!this.pruneTimer) {
        this.pruneTimer = setInterval(() => this.prune().catch((err: unknown) => this.opts.log.warn({ err }, 'pruning producers failed')), PRUNE_EVERY_MS);
        this.pruneTimer.unref();
      }
      const cssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
      if (cssrc !== undefined) {
        this.opts.onInboundSsrc(cssrc, ssrc);
        consumer.observer.once('close', () => this.opts.onInboundSsrcGone(cssrc));
      }
      this.opts.log.debug({ ssrc, consumerSsrc: cssrc }, 'peer SSRC producing');
    } finally {
      this.pending.delete(ssrc);
    }
  }

  /**
   * The worker said a producer of ours has no stream for `ssrc`: its packets
   * carry the other payload type than the one its stream must start with
   * (audio suppressed while a digit is sent, or a DTMF-only SSRC that later
   * carries audio). Recreates it with the other payload type first.
   */
  async noStreamFor(ssrc: number): Promise<void> {
    const e = this.producers.get(ssrc);
    const n = this.negotiated;
    if (!e || !n?.dtmf || this.closed) return;
    this.producers.delete(ssrc);
    e.consumer.close();
    e.producer.close();
    await this.addRemoteSsrc(ssrc, e.firstPt === n.recvPt ? n.dtmf.recvPt : n.recvPt);
  }

  hasProducerFor(ssrc: number): boolean {
    return this.producers.has(ssrc);
  }

  /** Closes producers that never received a packet since their creation PRUNE_AFTER_MS ago. */
  private async prune(): Promise<void> {
    const now = Date.now();
    for (const [ssrc, e] of [...this.producers]) {
      if (now - e.createdAt < PRUNE_AFTER_MS) continue;
      const stats = await e.producer.getStats().catch(() => null);
      if (this.closed) return;
      if (stats && stats.every((s) => s.packetCount === 0) && this.producers.get(ssrc) === e) {
        this.producers.delete(ssrc);
        e.consumer.close();
        e.producer.close();
        this.opts.log.debug({ ssrc }, 'idle producer pruned');
      }
    }
  }

  /** Closes the transport and with it its producers and consumers. Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    for (const { consumer, producer } of this.producers.values()) {
      consumer.close();
      producer.close();
    }
    this.producers.clear();
    this.mixConsumer?.close();
    this.mixProducer?.close();
    this.transport.close();
  }

  /** Connects to the peer of the negotiated stream and starts both directions. Once. */
  async start(n: NegotiatedAudio): Promise<void> {
    if (this.negotiated) throw new Error('leg transport already started');
    this.negotiated = n;
    const b = this.opts.bridge;
    if (!this.opts.latching && n.remote.ip) {
      await this.transport.connect({
        ip: n.remote.ip,
        port: n.remote.port,
        // A transport made muxed (our offer said a=rtcp-mux) cannot take a separate RTCP port
        // even when the answer declined mux (RFC 5761 §5.1.1): its RTCP then goes to the RTP port.
        ...(n.remote.rtcpMux || this.opts.rtcpMux ? {} : { rtcpPort: n.remote.rtcpPort ?? n.remote.port + 1 }),
        ...(n.remoteSrtp ? { srtpParameters: { cryptoSuite: n.remoteSrtp.suite, keyBase64: n.remoteSrtp.keyBase64 } } : {}),
      });
    } else if (n.remoteSrtp) {
      await this.transport.connect({ srtpParameters: { cryptoSuite: n.remoteSrtp.suite, keyBase64: n.remoteSrtp.keyBase64 } });
    }
    const mixProducer = await b.mixerTransport.produce({
      kind: 'audio',
      rtpParameters: { codecs: [codecParameters(n.codec, b.routerPt(n.codec))], encodings: [{ ssrc: this.opts.mixSsrc }] },
    });
    // The leg may have closed meanwhile (a caller hanging up during setup): close() could not see these.
    if (this.closed) return release(mixProducer, b.mixerTransport);
    this.mixProducer = mixProducer;
    const mixConsumer = await this.transport.consume({ producerId: mixProducer.id, rtpCapabilities: b.consumeCaps });
    if (this.closed) return release(mixConsumer, this.transport);
    this.mixConsumer = mixConsumer;
    if (n.direction === 'recvonly' || n.direction === 'inactive' || !n.remote.ip) await this.mixConsumer.pause();
    for (const ssrc of n.remoteSsrcs) await this.addRemoteSsrc(ssrc);
  }
}

/**
 * Lets go of a producer or consumer that was created while its leg closed. If
 * its transport is already closed, the worker dropped it with the transport:
 * a close() would ask the worker for a transport it no longer has (a logged
 * "not found" error), so the object is only told, as the transport's own close
 * would have done had it known the object.
 */
function release(x: ms.Producer | ms.Consumer, on: ms.Transport): void {
  if (on.closed) x.transportClosed();
  else x.close();
}

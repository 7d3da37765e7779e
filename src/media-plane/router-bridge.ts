// A Router of a room and the PlainTransport that links it to the room's Node
// socket, where the mixer runs.
//
// Why a PlainTransport to a Node UDP socket and not DirectTransport: measured
// here with 200 legs at 50 packets/s each way (10 k packets/s in and out of
// Node), the Node process (which also ran the 200 test endpoints) used ~31 %
// of a core through a loopback socket and
// ~35 % through DirectTransport 'rtp' events / producer.send() (the worker's
// share was equal, ~28 %). The socket path is also the one that can move the
// mixer into a worker thread later (dgram works there; the channel does not).
//
// Why a room may have more than one Router: a mediasoup Consumer always sends
// the Router's payload type for a codec, while RFC 3264 §5.1 wants each peer
// to receive the payload types of its own SDP. Static types (PCMU 0, PCMA 8,
// G722 9) agree everywhere; Opus is dynamic, so legs whose Opus payload type
// differs get a Router of their own on the same worker (one per distinct type,
// in practice nearly always one per room). Mixing is unaffected: every Router
// of the room feeds the same mixer, each through its own connected socket.
import type dgram from 'node:dgram';
import type { types as ms } from 'mediasoup';
import { CODECS, type CodecName } from '../mixer/codecs/audio-codec.ts';

export const DEFAULT_OPUS_PT = 111;

export interface BridgeCodecs {
  opusPt: number;
}

export function bridgeCodecs(opusPt: number): BridgeCodecs {
  return { opusPt };
}

const ALL_CODECS: CodecName[] = ['PCMU', 'PCMA', 'G722', 'opus'];

/**
 * The Router's codecs: all four whatever the configuration (which only limits
 * negotiation), because telephone-event rides on one of them (see carrierFor).
 */
export function routerMediaCodecs(b: BridgeCodecs): ms.RouterRtpCodecCapability[] {
  return ALL_CODECS.map((c) => {
    const info = CODECS[c];
    return {
      kind: 'audio',
      mimeType: `audio/${info.name}`,
      clockRate: info.rtpClock,
      ...(info.sdpChannels > 1 ? { channels: info.sdpChannels } : {}),
      preferredPayloadType: info.staticPt ?? b.opusPt,
    };
  });
}

/**
 * mediasoup Consumers forward only "media" codecs: telephone-event is a
 * complementary codec (RtpCodecMimeType::IsMediaCodec() is false for it) and
 * its packets are dropped at every Consumer. So a leg's Producer declares the
 * peer's telephone-event payload type as a media codec the leg does not use
 * (its carrier); the packets then reach the mixer under the carrier's Router
 * payload type, and the mixer reads them as RFC 4733 events from that leg.
 */
export function carrierFor(codec: CodecName): CodecName {
  return codec === 'PCMA' ? 'PCMU' : 'PCMA';
}

/** The codec entry for rtpParameters (producers) of a codec at a payload type. */
export function codecParameters(codec: CodecName, payloadType: number): ms.RtpCodecParameters {
  const info = CODECS[codec];
  return {
    mimeType: `audio/${info.name}`,
    clockRate: info.rtpClock,
    ...(info.sdpChannels > 1 ? { channels: info.sdpChannels } : {}),
    payloadType,
  };
}

export class RouterBridge {
  /** Capabilities for consume(): no header extensions, so SIP peers get plain RTP. */
  readonly consumeCaps: ms.RtpCapabilities;
  private closed = false;

  constructor(
    readonly router: ms.Router,
    /** Connected to `socket`; consumers deliver legs' audio to it, producers carry the mixes. */
    readonly mixerTransport: ms.PlainTransport,
    readonly codecs: BridgeCodecs,
    /** The Node end: bound on loopback and connected to the mixer transport (no per-send address lookup). */
    private readonly socket: dgram.Socket,
  ) {
    this.consumeCaps = { codecs: router.rtpCapabilities.codecs ?? [], headerExtensions: [] };
    this.mixerPort = mixerTransport.tuple.localPort;
  }

  /** The port Node sends mixes to (cached: mediasoup's tuple getter clones on every call). */
  readonly mixerPort: number;

  /** Router payload type of a codec: what the mixer sees on legs' packets and what legs are sent. */
  routerPt(codec: CodecName): number {
    return CODECS[codec].staticPt ?? this.codecs.opusPt;
  }

  /** Sends one mixed RTP packet toward the legs. */
  send(packet: Buffer): void {
    if (!this.closed) this.socket.send(packet);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.router.close();
    this.socket.close();
  }
}

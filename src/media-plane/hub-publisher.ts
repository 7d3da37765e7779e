// The room's side of its mediasoup hub (room-hub.ts): plain UDP and plain data,
// so it runs wherever the room runs (the main thread today, a media thread
// once rooms move there; mediasoup's channel stays on the main thread).
// It sends the hub's ingest PlainTransport the room's mix (Opus, encoded once
// per tick) and each leg's incoming audio (re-written to the SSRC and payload
// type the hub chose), each only while something consumes it; and it hands
// what the hub's consumers send back (browsers, pipes) to the room as inputs.
// A room without a hub has no publisher: its cost is one null test per packet.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../util/logger.ts';
import { CODECS, type CodecName } from '../mixer/codecs/audio-codec.ts';
import { OutputPipeline } from '../mixer/codecs/codec-pipeline.ts';
import type { MixTick, TickSink } from '../mixer/frames.ts';
import type { ParticipantMedia } from '../mixer/mixer-participant.ts';
import { writeRtpHeader } from '../mixer/rtp.ts';
import type { NegotiatedAudio } from './sdp-types.ts';

/** The mix is Opus (what browsers speak) at 16 kHz: a SIP room carries at most G.722's 7 kHz. */
export const HUB_MIX_CODEC: CodecName = 'opus';
const MIX_RATE = 16000;
const MAX_PACKET = 1500;
/** Send buffers in rotation: a datagram queued by the kernel path keeps its buffer a while. */
const RING = 16;

/** What the hub tells the room's side once it exists. */
export interface HubLink {
  /** The hub's ingest PlainTransport (what the room publishes goes there). */
  ip: string;
  port: number;
  /** The port of the hub's egress PlainTransport: the only source whose packets are accepted. */
  egressPort: number;
  mixSsrc: number;
  /** The Router's payload type for each codec it has. */
  payloadTypes: Readonly<Partial<Record<CodecName, number>>>;
}

/** A leg's stream in the hub (its Producer's SSRC and payload type). */
export interface HubLegStream {
  codec: CodecName;
  ssrc: number;
  pt: number;
}

/** A stream the hub sends the room (a Consumer on its egress transport). */
export interface HubInputStream {
  /** The room's name for it (its mixer participant id). */
  id: string;
  codec: CodecName;
  ssrc: number;
  pt: number;
  /** Only these legs hear it (a whisper to one leg); absent or null: everyone. */
  audience?: readonly string[] | null;
}

/** Where an input's own mix (the room minus its voice) goes: a Producer on the hub's ingest transport. */
export interface HubInputOutput {
  ssrc: number;
  pt: number;
}

/** What may change about an input while it is in the room (plain data, like every message here). */
export interface HubInputChange {
  muted?: boolean;
  audience?: readonly string[] | null;
}

/** What the hub may tell the room's side: direct calls today, small messages to a media thread later (never per packet). */
export interface HubPublisherControl {
  start(link: HubLink): void;
  /** The leg's Producer (null: forget the leg). */
  setLeg(legId: string, stream: HubLegStream | null): void;
  setMixConsumed(on: boolean): void;
  setLegConsumed(legId: string, on: boolean): void;
  addInput(input: HubInputStream): void;
  removeInput(id: string): void;
  /** The input hears the room: its mix-minus is encoded (Opus) and sent under this SSRC (null: no more). */
  setInputOutput(id: string, output: HubInputOutput | null): void;
  updateInput(id: string, change: HubInputChange): void;
}

/** What the publisher needs from its room (same thread). */
export interface HubRoomSide {
  addSink(sink: TickSink): void;
  removeSink(sink: TickSink): void;
  /**
   * A room input fed with the hub's RTP: a mixer participant, sent nothing
   * until the publisher turns `sending` on (then its mix-minus goes to `send`).
   */
  openHubInput(id: string, media: ParticipantMedia, send?: (packet: Buffer) => void): HubInputSink;
}

export interface HubInputSink {
  pushRtp(buf: Uint8Array, nowMs: number): void;
  close(): void;
  /** The mixer participant's hear/speak switches (see mixer-participant.ts). */
  sending: boolean;
  muted: boolean;
  audience: ReadonlySet<string> | null;
  setMedia(media: ParticipantMedia): void;
  on(event: 'talk', listener: (talking: boolean) => void): unknown;
}

interface InputState {
  id: string;
  sink: HubInputSink;
  media: ParticipantMedia;
  output: HubInputOutput | null;
}

export interface HubPublisherOptions {
  /** Where to bind the publisher's socket (the hub's listen address). */
  ip: string;
  /** A leg's first audio, or its codec changed: the hub should make it a Producer and answer with setLeg(). */
  requestLeg(legId: string, codec: CodecName): void;
  /** An input started or stopped talking (voice activity: a message per change, never per packet). */
  inputTalk?(id: string, talking: boolean): void;
  log: Logger;
}

interface LegState {
  codec: CodecName;
  stream: HubLegStream | null;
  consumed: boolean;
  /** The peer's SSRC now, and the offsets that map its sequence and timestamp onto our continuous stream. */
  srcSsrc: number;
  /** The peer's SSRC before it (-1: none) and its last sequence number: its packets held back past the change are not published (the hub's stream went on). */
  prevSsrc: number;
  prevTop: number;
  seqOffset: number;
  tsOffset: number;
  outSeq: number;
  outTs: number;
}

export class HubPublisher implements TickSink, HubPublisherControl {
  readonly sampleRate = MIX_RATE;
  readonly stats = { mixPackets: 0, legPackets: 0, inputPackets: 0, inputMixPackets: 0, unknownSsrc: 0, wrongSource: 0 };
  private link: HubLink | null = null;
  private room: HubRoomSide | null = null;
  private mixConsumed = false;
  private mixPipe: OutputPipeline | null = null;
  private mixSeq = Math.floor(Math.random() * 0x10000);
  private mixTs = Math.floor(Math.random() * 0x100000000) >>> 0;
  private readonly mixPayload = new Uint8Array(MAX_PACKET);
  private readonly legs = new Map<string, LegState>();
  private readonly inputs = new Map<number, InputState>();
  private readonly ring: Buffer[] = Array.from({ length: RING }, () => Buffer.allocUnsafe(MAX_PACKET));
  private ringAt = 0;
  private closed = false;
  private readonly log: Logger;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly opts: HubPublisherOptions,
  ) {
    this.log = opts.log;
    socket.on('message', this.onMessage);
    socket.on('error', (err) => this.log.warn({ err }, 'hub publisher socket error'));
  }

  static async open(opts: HubPublisherOptions): Promise<HubPublisher> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, opts.ip);
    await once(socket, 'listening');
    return new HubPublisher(socket, opts);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The publisher's socket: the hub's transports send to it, and it sends from it. */
  get local(): { ip: string; port: number } {
    const a = this.socket.address();
    return { ip: a.address, port: a.port };
  }

  /** @internal The room attaches its publisher (MediaRoom.attachPublisher). */
  attach(room: HubRoomSide): void {
    if (this.closed) return;
    this.room = room;
    room.addSink(this);
  }

  start(link: HubLink): void {
    if (this.closed) return;
    this.link = link;
  }

  setMixConsumed(on: boolean): void {
    if (this.closed) return;
    this.mixConsumed = on;
    // The encoder exists only while someone listens: nobody consuming costs no Opus encode.
    if (on && !this.mixPipe) this.mixPipe = new OutputPipeline(HUB_MIX_CODEC, MIX_RATE);
    if (!on && this.mixPipe) {
      this.mixPipe.close();
      this.mixPipe = null;
    }
  }

  setLeg(legId: string, stream: HubLegStream | null): void {
    if (this.closed) return;
    const s = this.legs.get(legId);
    if (!stream) {
      this.legs.delete(legId);
      return;
    }
    // An answer for a codec the leg no longer has (a re-INVITE in between) waits for the next one.
    if (!s || s.codec !== stream.codec) return;
    s.stream = stream;
    s.consumed = false;
  }

  setLegConsumed(legId: string, on: boolean): void {
    const s = this.legs.get(legId);
    if (s && s.stream) s.consumed = on;
  }

  addInput(input: HubInputStream): void {
    if (this.closed || !this.room) return;
    this.removeInput(input.id);
    const media: ParticipantMedia = { codec: input.codec, audioPt: input.pt, dtmfPt: null, dtmfClock: 8000, sendPt: input.pt, sendSsrc: 0 };
    const state = { id: input.id, media, output: null } as Omit<InputState, 'sink'> & { sink?: HubInputSink };
    // Its mix-minus (once setInputOutput names a stream) goes to the ingest transport like the room's mix.
    const send = (packet: Buffer): void => {
      const link = this.link;
      if (link === null || state.output === null) return;
      this.stats.inputMixPackets++;
      this.socket.send(packet, 0, packet.length, link.port, link.ip);
    };
    state.sink = this.room.openHubInput(input.id, media, send);
    state.sink.sending = false;
    if (input.audience) state.sink.audience = new Set(input.audience);
    const talk = this.opts.inputTalk;
    if (talk) state.sink.on('talk', (talking) => talk(input.id, talking));
    this.inputs.set(input.ssrc, state as InputState);
  }

  setInputOutput(id: string, output: HubInputOutput | null): void {
    if (this.closed) return;
    for (const i of this.inputs.values()) {
      if (i.id !== id) continue;
      // The mixer encodes an input's mix in the input's codec: only an Opus input can feed the (Opus) output.
      if (output && i.media.codec !== HUB_MIX_CODEC) {
        this.log.warn({ input: id, codec: i.media.codec }, 'an input that is not Opus gets no output of its own');
        continue;
      }
      i.output = output;
      if (output) {
        i.media = { ...i.media, sendPt: output.pt, sendSsrc: output.ssrc };
        i.sink.setMedia(i.media);
      }
      i.sink.sending = output !== null;
    }
  }

  updateInput(id: string, change: HubInputChange): void {
    if (this.closed) return;
    for (const i of this.inputs.values()) {
      if (i.id !== id) continue;
      if (change.muted !== undefined) i.sink.muted = change.muted;
      if (change.audience !== undefined) i.sink.audience = change.audience === null ? null : new Set(change.audience);
    }
  }

  removeInput(id: string): void {
    for (const [ssrc, i] of this.inputs) {
      if (i.id !== id) continue;
      i.sink.close();
      this.inputs.delete(ssrc);
    }
  }

  /** @internal A leg's incoming RTP (after SRTP), from the room's onRtp path. */
  legRtp(legId: string, media: Readonly<NegotiatedAudio> | null, pkt: Buffer): void {
    const link = this.link;
    if (link === null || media === null || pkt.length < 12 || pkt.length > MAX_PACKET) return;
    let s = this.legs.get(legId);
    if (s === undefined || s.codec !== media.codec) {
      s = newLegState(media.codec, s);
      this.legs.set(legId, s);
      this.opts.requestLeg(legId, media.codec);
      return;
    }
    const stream = s.stream;
    // Only the negotiated audio: telephone-event is no media codec for a Consumer, CN is no Router codec.
    if (stream === null || !s.consumed || (pkt[1] & 0x7f) !== media.recvPt) return;
    const ssrc = ((pkt[8] << 24) | (pkt[9] << 16) | (pkt[10] << 8) | pkt[11]) >>> 0;
    const seq = (pkt[2] << 8) | pkt[3];
    const ts = ((pkt[4] << 24) | (pkt[5] << 16) | (pkt[6] << 8) | pkt[7]) >>> 0;
    let marker = (pkt[1] & 0x80) !== 0;
    if (ssrc !== s.srcSsrc) {
      // (The leg's endpoint passes the source before the last change only for its packets the network held back
      // past it, ssrc-probation.ts: the hub's stream went on, and one would break it twice.)
      if (ssrc === s.prevSsrc && ((((s.prevTop - seq) & 0xffff) << 16) >> 16) >= 0) return;
      // A new source from the peer: our stream goes on where it was, one frame later (RFC 3550 §5.1: SSRC,
      // sequence and timestamp belong to the stream the hub knows, not to the phone's).
      s.prevSsrc = s.srcSsrc;
      s.prevTop = (s.outSeq - s.seqOffset) & 0xffff;
      s.srcSsrc = ssrc;
      s.seqOffset = (s.outSeq + 1 - seq) & 0xffff;
      s.tsOffset = (s.outTs + CODECS[s.codec].rtpClock / 50 - ts) >>> 0;
      marker = true;
    }
    s.outSeq = (seq + s.seqOffset) & 0xffff;
    s.outTs = (ts + s.tsOffset) >>> 0;
    const out = this.nextBuffer();
    pkt.copy(out, 0, 0, pkt.length);
    writeRtpHeader(out, stream.pt, marker, s.outSeq, s.outTs, stream.ssrc);
    // writeRtpHeader writes a plain first byte: keep the phone's CSRC count, extension and padding bits.
    out[0] = pkt[0];
    this.stats.legPackets++;
    this.socket.send(out, 0, pkt.length, link.port, link.ip);
  }

  /** TickSink: the room's mix every 20 ms, encoded once for the hub. */
  writeTick(tick: MixTick): void {
    const link = this.link;
    const pipe = this.mixPipe;
    if (link === null || pipe === null || !this.mixConsumed) return;
    const len = pipe.encode(tick.mix, this.mixPayload);
    const out = this.nextBuffer();
    writeRtpHeader(out, link.payloadTypes[HUB_MIX_CODEC] ?? 111, this.stats.mixPackets === 0, this.mixSeq, this.mixTs, link.mixSsrc);
    out.set(this.mixPayload.subarray(0, len), 12);
    this.mixSeq = (this.mixSeq + 1) & 0xffff;
    this.mixTs = (this.mixTs + pipe.timestampStep) >>> 0;
    this.stats.mixPackets++;
    this.socket.send(out, 0, 12 + len, link.port, link.ip);
  }

  /** Stops publishing, closes the room's hub inputs and the socket. Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.room?.removeSink(this);
    for (const i of this.inputs.values()) i.sink.close();
    this.inputs.clear();
    this.legs.clear();
    this.mixPipe?.close();
    this.mixPipe = null;
    this.link = null;
    this.room = null;
    this.socket.close();
  }

  private nextBuffer(): Buffer {
    const b = this.ring[this.ringAt];
    this.ringAt = (this.ringAt + 1) % RING;
    return b;
  }

  /** What the hub's consumers send: RTP by SSRC to its room input; RTCP (their SRs, the ingest side's RRs) is not needed. */
  private readonly onMessage = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    const link = this.link;
    if (link === null || buf.length < 12 || buf[0] >> 6 !== 2) return;
    const pt = buf[1] & 0x7f;
    if (pt >= 72 && pt <= 79) return; // RTCP multiplexed (RFC 5761 §4)
    if (rinfo.port !== link.egressPort || rinfo.address !== link.ip) {
      this.stats.wrongSource++;
      return;
    }
    const ssrc = ((buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]) >>> 0;
    const input = this.inputs.get(ssrc);
    if (input === undefined) {
      this.stats.unknownSsrc++;
      return;
    }
    this.stats.inputPackets++;
    input.sink.pushRtp(buf, performance.now());
  };
}

function newLegState(codec: CodecName, old: LegState | undefined): LegState {
  return {
    codec,
    stream: null,
    consumed: false,
    srcSsrc: -1,
    prevSsrc: -1,
    prevTop: 0,
    seqOffset: 0,
    tsOffset: 0,
    // A codec change keeps the stream's sequence going; its new Producer has a new SSRC anyway.
    outSeq: old ? old.outSeq : Math.floor(Math.random() * 0x10000),
    outTs: old ? old.outTs : Math.floor(Math.random() * 0x100000000) >>> 0,
  };
}

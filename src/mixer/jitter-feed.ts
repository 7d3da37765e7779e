// A mixer participant's audio packets on their way into its jitter buffer: the stream is
// the latest audio SSRC (a new one continues the last one's numbers: stream-splice.ts); an Opus packet is read in place
// and dropped when malformed (RFC 6716 §3.4); packets of other than 20 ms go onto the 20 ms
// grid first (G.711/G.722: packet-reframer.ts; Opus: opus-packet-splitter.ts); and while the
// room forwards (two-party-forwarder.ts) each frame goes on to the other leg as it arrives.
// What comes out of the buffer, decoded each tick, is MixerParticipant's. Media hot path:
// nothing is allocated per packet (the grid's sinks are made once, here).
import type { CodecName } from './codecs/audio-codec.ts';
import { CODECS } from './codecs/audio-codec.ts';
import { JitterBuffer } from './jitter-buffer.ts';
import type { MixerParticipant } from './mixer-participant.ts';
import { newOpusPacket, readOpusPacket, TICKS_20MS } from './opus-packet.ts';
import { OPUS_BUNDLE_PT, OpusPacketSplitter } from './opus-packet-splitter.ts';
import { PacketReframer } from './packet-reframer.ts';
import { CLOSED, HOLE, StreamSplice } from './stream-splice.ts';
import type { ParticipantMedia, ParticipantOptions } from './participant-options.ts';
import type { RtpView } from './rtp.ts';

export class JitterFeed {
  private buffer: JitterBuffer;
  private audioSsrc: number | null = null;
  /** G.711/G.722 packets of other than 20 ms are cut into 20 ms frames, Opus ones of other than 20 ms split onto the grid; rxMs: their arrival. */
  private readonly reframer: PacketReframer;
  private readonly splitter: OpusPacketSplitter;
  /** The framing of the Opus packet being taken (read in place, RFC 6716 §3.2). */
  private readonly opusPacket = newOpusPacket();
  /** Audio packets dropped because their payload is malformed (Opus: RFC 6716 §3.4's R1-R7) or empty. */
  private malformedCount = 0;
  private rxMs = 0;
  /** A new SSRC continues the last one's numbers (stream-splice.ts): the buffer goes on. */
  private readonly splice: StreamSplice;

  /** @internal Made by MixerParticipant, whose `relay` gets the frames as they arrive. */
  constructor(
    private readonly owner: MixerParticipant,
    private media: ParticipantMedia,
    private readonly opts: ParticipantOptions,
  ) {
    this.buffer = this.newJitter(media.codec);
    this.splice = new StreamSplice(CODECS[media.codec].rtpClock);
    this.reframer = new PacketReframer(media.codec, this.onFrame);
    this.splitter = new OpusPacketSplitter(this.onOpusFrame);
  }

  /** The leg's jitter buffer (a new one after a codec change). */
  get jitter(): JitterBuffer {
    return this.buffer;
  }

  /** The SSRC of the leg's audio, once one arrived. */
  get ssrc(): number | null {
    return this.audioSsrc;
  }

  /** Whether this stream's Opus comes in packets of other than 20 ms (split onto the grid). */
  get splitting(): boolean {
    return this.splitter.splitting;
  }

  get malformed(): number {
    return this.malformedCount;
  }

  /** The leg's media changed (re-offer): a new codec starts a new jitter buffer and grid. */
  setMedia(media: ParticipantMedia): void {
    const codecChanged = media.codec !== this.media.codec;
    this.media = media;
    if (!codecChanged) return;
    this.splice.setClock(CODECS[media.codec].rtpClock);
    this.buffer = this.newJitter(media.codec);
    this.reframer.reset(media.codec);
    this.splitter.reset();
  }

  /** The room ends: what the jitter buffer holds plays out without waiting for its depth. */
  drain(): void {
    // A cut stream's last partial frame waits for bytes that will not come now.
    this.reframer.flush();
    this.splitter.flush();
    this.buffer.drain();
  }

  /**
   * A packet that is not audio (telephone-event, an unknown payload type): the forwarder skips its number.
   * An empty one (an RFC 6263 §4.6 keep-alive, of a payload type negotiated or not) brings no frame, so it
   * takes no place in the stream.
   */
  skipped(v: RtpView): void {
    // (A reframed or split stream's numbers are the grid's, not the wire's: the forwarder skips nothing for these.)
    if (this.reframer.reframing || this.splitter.splitting) return;
    if (v.payloadEnd === v.payloadOffset && this.closeUp(v)) return; // a keep-alive (RFC 6263 §4.6): as if never sent
    this.owner.relay?.dropped(this.owner, v.ssrc, v.seq, v.timestamp);
  }

  /** Any packet of the leg's, first: its numbers onto the leg's one timeline (in place), across changes of SSRC. */
  align(v: RtpView, nowMs: number): void {
    // An empty packet is no audio (it starts no new stream: a stray keep-alive's SSRC would move the real stream's numbers).
    this.splice.align(v, nowMs, v.payloadType === this.media.audioPt && v.payloadEnd > v.payloadOffset);
  }

  /** An audio packet (`v` its header, aligned, `payload` a view of its payload). */
  push(v: RtpView, payload: Uint8Array, nowMs: number): void {
    if (payload.length === 0) return this.empty(v);
    if (this.splice.late) {
      // One of the stream before the last change, held back past it (stream-splice.ts): into its place if the
      // buffer has not played past it (else counted late there). Not forwarded: the listener's stream went on
      // to the new one. (A grid's numbers follow the new stream now: cut or split, it cannot be placed.)
      if (!this.reframer.reframing && !this.splitter.splitting) this.buffer.push(v.seq, v.timestamp, v.payloadType, payload, nowMs);
      return;
    }
    if (v.ssrc !== this.audioSsrc) {
      // A new source (peer restarted its stream): its numbers continue the last one's
      // (align), the buffer goes on; a partial frame of the last one is not completed by it.
      this.audioSsrc = v.ssrc;
      this.reframer.reset();
      this.splitter.reset();
    }
    this.rxMs = nowMs;
    if (this.media.codec === 'opus') {
      const ticks = readOpusPacket(payload, this.opusPacket);
      if (ticks < 0) {
        // Never to the decoder: its frames' lengths or count are not what the packet says.
        if (this.malformedCount++ === 0) this.opts.log.warn({ ssrc: v.ssrc, seq: v.seq, bytes: payload.length, why: this.opusPacket.error }, 'malformed Opus packet dropped (and any more, counted)');
        if (!this.splitter.splitting) this.owner.relay?.dropped(this.owner, v.ssrc, v.seq, v.timestamp);
        return;
      }
      if (this.splitter.takes(ticks)) {
        // A packet of several 20 ms frames brings them at once (a 120 ms one six): not a burst to shed.
        this.buffer.setBurst(Math.ceil(ticks / TICKS_20MS));
        return this.splitter.push(v.seq, v.timestamp, payload, this.opusPacket);
      }
    } else if (this.reframer.takes(payload.length)) return this.reframer.push(v.seq, v.timestamp, v.marker, payload);
    // Refused as late after a hand-back, it may be one the other leg has not heard (TwoPartyForwarder.late).
    if (!this.buffer.push(v.seq, v.timestamp, v.payloadType, payload, nowMs)) this.owner.handedBack?.late(this.owner, v.seq, v.timestamp, payload);
    this.splice.took(v.seq, v.timestamp, nowMs);
    this.owner.relay?.packet(this.owner, v.seq, v.timestamp, v.marker, payload, nowMs, this.splice.skippedBefore);
  }

  /** An audio packet with no payload (of the leg's codec, or of the one a re-offer just left), `v` aligned: dropped and counted. */
  empty(v: RtpView): void {
    // No audio: not a frame (each took a tick of the buffer, which plays one a tick: 20 ms of
    // silence apiece), nor a hole to conceal: the numbers after it close up over it (StreamSplice).
    if (this.malformedCount++ === 0) this.opts.log.warn({ ssrc: v.ssrc, seq: v.seq }, 'empty audio packet dropped (and any more malformed, counted)');
    // (A grid's numbers follow the timestamps, not the wire's: an empty packet moves nothing there.)
    if (this.reframer.reframing || this.splitter.splitting) return;
    if (!this.closeUp(v)) this.owner.relay?.dropped(this.owner, v.ssrc, v.seq, v.timestamp);
  }

  /** An empty packet of a 20 ms stream (`v` aligned): true when the numbers after it closed up over it; else its number stays a hole, played over when it is the stream's. */
  private closeUp(v: RtpView): boolean {
    const r = this.splice.closeUp(v);
    if (r === HOLE) this.buffer.skip(v.seq);
    return r === CLOSED;
  }

  private newJitter(codec: CodecName): JitterBuffer {
    const deep = this.opts.recordOnlyMs ?? null;
    const clock = CODECS[codec].rtpClock;
    return deep !== null ? new JitterBuffer(deep, deep, clock, true) : new JitterBuffer(this.opts.jitterMinMs, this.opts.jitterMaxMs, clock);
  }

  // A grid's numbers go to the splice too: a new stream goes on from them, not from the wire's.
  private readonly onOpusFrame = (seq: number, ts: number, bundle: Uint8Array): void => {
    this.buffer.push(seq, ts, OPUS_BUNDLE_PT, bundle, this.rxMs);
    this.splice.took(seq, ts, this.rxMs);
  };

  private readonly onFrame = (seq: number, ts: number, marker: boolean, frame: Uint8Array): void => {
    this.buffer.push(seq, ts, this.media.audioPt, frame, this.rxMs);
    this.splice.took(seq, ts, this.rxMs);
    this.owner.relay?.packet(this.owner, seq, ts, marker, frame, this.rxMs);
  };
}

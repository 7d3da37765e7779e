// A leg's stream of the codec it just left (a re-offer, PCMU → G.722): until the answer is
// in effect the peer may still send the old formats (RFC 3264 §8.3.2), and what it sent
// before it switched is still in flight. Such packets are decoded with the old codec's
// decoder (its state carries on) and played after the old frames its jitter buffer held
// (MixerParticipant.tail), in sequence, for OLD_STREAM_FRAMES ticks or until the first
// packet of the new codec. Only 20 ms packets are taken (the grid's reframing and Opus
// splitting were the old stream's and are gone). A rare path: a frame allocated per packet.
import type { CodecName } from './codecs/audio-codec.ts';
import { InputPipeline } from './codecs/codec-pipeline.ts';
import { seqDiff } from './jitter-buffer.ts';
import { newOpusPacket, readOpusPacket, TICKS_20MS } from './opus-packet.ts';

/** Ticks the old stream is taken after the change (300 ms: the endpoint's grace, rtp-receiver.ts). */
const OLD_STREAM_FRAMES = 15;
/** Lost old packets concealed at most between two that came. */
const MAX_CONCEALED = 3;

export class OldCodecStream {
  private ticks = 0;
  private closed = false;
  private readonly opus = newOpusPacket();

  constructor(
    /** The old stream's audio payload type. */
    readonly pt: number,
    readonly codec: CodecName,
    private pipe: InputPipeline,
    /** The sequence number the old stream's next frame carries (its jitter buffer's next). */
    private next: number,
    private frameSamples: number,
  ) {}

  /** A packet of the old payload type: its frame (and any lost before it, concealed) appended to `frames`; false when not taken. */
  take(seq: number, payload: Uint8Array, frames: Int16Array[]): boolean {
    if (this.closed || (this.codec === 'opus' ? readOpusPacket(payload, this.opus) !== TICKS_20MS : payload.length !== 160)) return false;
    const d = seqDiff(seq, this.next);
    // Older than the frames played already, or a duplicate: too late.
    if (d < 0) return false;
    // (A jump further is a stream the old buffer never played: no losses counted.)
    for (let k = 0; d <= MAX_CONCEALED && k < d; k++) {
      const lost = new Int16Array(this.frameSamples);
      this.pipe.decode(null, lost);
      frames.push(lost);
    }
    const f = new Int16Array(this.frameSamples);
    this.pipe.decode(payload, f);
    frames.push(f);
    this.next = (seq + 1) & 0xffff;
    return true;
  }

  /** One tick passed: after the last of its time the stream closes. */
  tick(): void {
    if (++this.ticks > OLD_STREAM_FRAMES) this.close();
  }

  /** The room changed rate: the old codec decodes at the new one (its decoder's state is lost: a G.711 leg's keeps none). */
  setRoomRate(rate: number): void {
    if (this.closed) return;
    this.pipe.close();
    this.pipe = new InputPipeline(this.codec, rate);
    this.frameSamples = rate / 50;
  }

  /** Idempotent: a closed stream takes nothing more. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pipe.close();
  }
}

// A codec plus the resampling between its PCM rate and the room's rate: what
// one leg needs to turn RTP payloads into room frames and room frames back.
import type { AudioDecoder, AudioEncoder, CodecName } from './audio-codec.ts';
import { CODECS } from './audio-codec.ts';
import { G711Decoder, G711Encoder } from './g711-codec.ts';
import { G722Decoder, G722Encoder } from './g722.ts';
import { OpusDecoder, OpusEncoder } from './opus-codec.ts';
import { Resampler } from './resampler.ts';

function makeDecoder(codec: CodecName, roomRate: number): AudioDecoder {
  switch (codec) {
    case 'PCMU':
      return new G711Decoder('ulaw');
    case 'PCMA':
      return new G711Decoder('alaw');
    case 'G722':
      return new G722Decoder();
    case 'opus':
      return new OpusDecoder(roomRate === 48000 ? 48000 : 16000);
  }
}

function makeEncoder(codec: CodecName, roomRate: number, fec: boolean): AudioEncoder {
  switch (codec) {
    case 'PCMU':
      return new G711Encoder('ulaw');
    case 'PCMA':
      return new G711Encoder('alaw');
    case 'G722':
      return new G722Encoder();
    case 'opus':
      return new OpusEncoder(roomRate === 48000 ? 48000 : 16000, undefined, fec);
  }
}

export class InputPipeline {
  private readonly decoder: AudioDecoder;
  private readonly resampler: Resampler | null;
  private readonly scratch: Int16Array;

  constructor(
    readonly codec: CodecName,
    readonly roomRate: number,
  ) {
    this.decoder = makeDecoder(codec, roomRate);
    this.resampler = this.decoder.rate === roomRate ? null : new Resampler(this.decoder.rate, roomRate);
    this.scratch = new Int16Array(this.decoder.rate / 50);
  }

  /** Decodes one 20 ms payload (or conceals a loss when payload is null) into out at the room rate. */
  decode(payload: Uint8Array | null, out: Int16Array): void {
    const target = this.resampler ? this.scratch : out;
    const n = payload ? this.decoder.decode(payload, target) : this.decoder.conceal(target);
    if (n < target.length) target.fill(0, n);
    if (this.resampler) this.resampler.process(this.scratch, out);
  }

  /**
   * A lost 20 ms packet whose next packet is here (`next`, of 20 ms): rebuilt from that
   * packet's in-band FEC where the codec carries one (Opus), else concealed as decode(null) does.
   * True when it was rebuilt.
   */
  recover(next: Uint8Array, out: Int16Array): boolean {
    if (!(this.decoder instanceof OpusDecoder)) {
      this.decode(null, out);
      return false;
    }
    const target = this.resampler ? this.scratch : out;
    const before = this.decoder.recovered;
    const n = this.decoder.recover(next, target);
    if (n < target.length) target.fill(0, n);
    if (this.resampler) this.resampler.process(this.scratch, out);
    return this.decoder.recovered > before;
  }

  /** Decodes one 20 ms slot of an Opus stream split onto the grid (opus-packet-splitter.ts) into out at the room rate. */
  decodeBundle(bundle: Uint8Array, out: Int16Array): void {
    if (!(this.decoder instanceof OpusDecoder)) throw new Error(`an Opus bundle for a ${this.codec} decoder`);
    const target = this.resampler ? this.scratch : out;
    this.decoder.decodeBundle(bundle, target);
    if (this.resampler) this.resampler.process(this.scratch, out);
  }

  close(): void {
    this.decoder.close();
  }
}

export class OutputPipeline {
  private readonly encoder: AudioEncoder;
  private readonly resampler: Resampler | null;
  private readonly scratch: Int16Array;
  /** RTP timestamp increment per 20 ms frame. */
  readonly timestampStep: number;

  /** `fec`: Opus with in-band FEC (the listener's useinbandfec=1); ignored by the other codecs. */
  constructor(
    readonly codec: CodecName,
    readonly roomRate: number,
    readonly fec = false,
  ) {
    this.encoder = makeEncoder(codec, roomRate, fec);
    this.resampler = this.encoder.rate === roomRate ? null : new Resampler(roomRate, this.encoder.rate);
    this.scratch = new Int16Array(this.encoder.rate / 50);
    this.timestampStep = CODECS[codec].rtpClock / 50;
  }

  /** Encodes one room frame into out; returns the payload length. */
  encode(frame: Int16Array, out: Uint8Array): number {
    if (this.resampler) {
      this.resampler.process(frame, this.scratch);
      return this.encoder.encode(this.scratch, out);
    }
    return this.encoder.encode(frame, out);
  }

  close(): void {
    this.encoder.close();
  }
}

// Opus through opusscript (libopus 1.4 compiled to wasm: installs offline, no
// native build). It decodes straight to the room rate, so no resampling.
// opusscript returns a fresh Buffer per call; at ~0.3 ms per encode that copy
// is noise, and wrapping its private heap views would break on heap growth.
import OpusScript from 'opusscript';
import type { AudioDecoder, AudioEncoder } from './audio-codec.ts';

type OpusRate = 8000 | 12000 | 16000 | 24000 | 48000;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;

export class OpusDecoder implements AudioDecoder {
  private readonly opus: OpusScript;
  private readonly frame: number;
  constructor(readonly rate: OpusRate) {
    this.opus = new OpusScript(rate, 1, OpusScript.Application.VOIP);
    this.frame = rate / 50;
  }
  decode(payload: Uint8Array, out: Int16Array): number {
    let pcm: Buffer;
    try {
      pcm = this.opus.decode(Buffer.from(payload.buffer, payload.byteOffset, payload.length));
    } catch {
      return this.conceal(out);
    }
    const n = Math.min(pcm.length >> 1, out.length);
    for (let i = 0; i < n; i++) out[i] = pcm.readInt16LE(i << 1);
    if (n < this.frame) out.fill(0, n, this.frame);
    return this.frame;
  }
  conceal(out: Int16Array): number {
    out.fill(0, 0, this.frame);
    return this.frame;
  }
  close(): void {
    this.opus.delete();
  }
}

export class OpusEncoder implements AudioEncoder {
  private readonly opus: OpusScript;
  private readonly frame: number;
  private readonly input: Buffer;
  constructor(readonly rate: OpusRate, complexity = 3) {
    this.opus = new OpusScript(rate, 1, OpusScript.Application.VOIP);
    this.opus.encoderCTL(OPUS_SET_COMPLEXITY, complexity);
    this.opus.encoderCTL(OPUS_SET_INBAND_FEC, 0);
    this.frame = rate / 50;
    this.input = Buffer.alloc(this.frame * 2);
  }
  encode(pcm: Int16Array, out: Uint8Array): number {
    for (let i = 0; i < this.frame; i++) this.input.writeInt16LE(pcm[i], i << 1);
    const packet = this.opus.encode(this.input, this.frame);
    out.set(packet);
    return packet.length;
  }
  close(): void {
    this.opus.delete();
  }
}

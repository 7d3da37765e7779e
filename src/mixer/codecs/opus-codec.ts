// Opus through opusscript (libopus 1.4 compiled to wasm: installs offline, no
// native build). It decodes straight to the room rate, so no resampling.
// opusscript returns a fresh Buffer per call; at ~0.3 ms per encode that copy
// is noise, and wrapping its private heap views would break on heap growth.
// A packet of 40 or 60 ms (opus-packet-splitter.ts) decodes whole at its first 20 ms; the
// jitter buffer then holds an empty payload for each further 20 ms of it, and an empty
// payload here plays the next 20 ms of what the packet decoded.
import OpusScript from 'opusscript';
import type { AudioDecoder, AudioEncoder } from './audio-codec.ts';

type OpusRate = 8000 | 12000 | 16000 | 24000 | 48000;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;

/** The most a packet may hold here: 60 ms (opusscript decodes at most 2880 samples at 48 kHz). */
const MAX_PACKET_MS = 60;

export class OpusDecoder implements AudioDecoder {
  private readonly opus: OpusScript;
  private readonly frame: number;
  /** The decoded 20 ms frames of the last packet after its first, and how many of them are left to play. */
  private readonly rest: Int16Array;
  private restAt = 0;
  private restEnd = 0;
  constructor(readonly rate: OpusRate) {
    this.opus = new OpusScript(rate, 1, OpusScript.Application.VOIP);
    this.frame = rate / 50;
    this.rest = new Int16Array((rate * (MAX_PACKET_MS - 20)) / 1000);
  }
  decode(payload: Uint8Array, out: Int16Array): number {
    if (payload.length === 0) return this.next(out);
    this.restAt = this.restEnd = 0;
    let pcm: Buffer;
    try {
      pcm = this.opus.decode(Buffer.from(payload.buffer, payload.byteOffset, payload.length));
    } catch {
      return this.conceal(out);
    }
    const total = pcm.length >> 1;
    const n = Math.min(total, this.frame, out.length);
    for (let i = 0; i < n; i++) out[i] = pcm.readInt16LE(i << 1);
    if (n < this.frame) out.fill(0, n, this.frame);
    const more = Math.min(total - n, this.rest.length);
    for (let i = 0; i < more; i++) this.rest[i] = pcm.readInt16LE((n + i) << 1);
    this.restEnd = more > 0 ? more : 0;
    return this.frame;
  }
  /** The next 20 ms of the last packet (a continuation slot), or a concealed frame when none is left (its packet was lost). */
  private next(out: Int16Array): number {
    if (this.restAt >= this.restEnd) return this.conceal(out);
    const n = Math.min(this.frame, this.restEnd - this.restAt);
    out.set(this.rest.subarray(this.restAt, this.restAt + n));
    if (n < this.frame) out.fill(0, n, this.frame);
    this.restAt += n;
    return this.frame;
  }
  conceal(out: Int16Array): number {
    this.restAt = this.restEnd = 0;
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

import { ALAW_DECODE, ULAW_DECODE, decodeG711, encodeG711 } from './g711.ts';
import type { AudioDecoder, AudioEncoder } from './audio-codec.ts';

export class G711Decoder implements AudioDecoder {
  readonly rate = 8000;
  private readonly table: Int16Array;
  constructor(law: 'ulaw' | 'alaw') {
    this.table = law === 'ulaw' ? ULAW_DECODE : ALAW_DECODE;
  }
  decode(payload: Uint8Array, out: Int16Array): number {
    return decodeG711(this.table, payload, out);
  }
  conceal(out: Int16Array): number {
    out.fill(0, 0, 160);
    return 160;
  }
  close(): void {}
}

export class G711Encoder implements AudioEncoder {
  readonly rate = 8000;
  constructor(private readonly law: 'ulaw' | 'alaw') {}
  encode(pcm: Int16Array, out: Uint8Array): number {
    return encodeG711(this.law, pcm, out);
  }
  close(): void {}
}

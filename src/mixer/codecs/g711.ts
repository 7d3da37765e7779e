// G.711 µ-law and A-law (ITU-T G.711) through lookup tables: decoding is one
// table read per sample, encoding one read into a 16 k-entry table indexed by
// the sample's top 14 bits (the low 2 bits never change the code).

function ulawDecodeOne(u: number): number {
  u = ~u & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

function alawDecodeOne(a: number): number {
  a ^= 0x55;
  const sign = a & 0x80;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  magnitude = magnitude > 32767 ? 32767 : magnitude;
  return sign ? magnitude : -magnitude;
}

function ulawEncodeOne(sample: number): number {
  const BIAS = 0x84;
  let sign = 0;
  if (sample < 0) {
    sample = -sample;
    sign = 0x80;
  }
  if (sample > 32635) sample = 32635;
  sample += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (sample & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (sample >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function alawEncodeOne(sample: number): number {
  let sign = 0x80;
  if (sample < 0) {
    sample = -sample - 1;
    sign = 0;
  }
  if (sample > 32767) sample = 32767;
  let code: number;
  if (sample < 256) {
    code = sample >> 4;
  } else {
    let exponent = 1;
    for (let v = sample >> 8; v > 1; v >>= 1) exponent++;
    code = (exponent << 4) | ((sample >> (exponent + 3)) & 0x0f);
  }
  return (code | sign) ^ 0x55;
}

export const ULAW_DECODE = new Int16Array(256);
export const ALAW_DECODE = new Int16Array(256);
const ULAW_ENCODE = new Uint8Array(16384);
const ALAW_ENCODE = new Uint8Array(16384);
for (let i = 0; i < 256; i++) {
  ULAW_DECODE[i] = ulawDecodeOne(i);
  ALAW_DECODE[i] = alawDecodeOne(i);
}
for (let i = 0; i < 16384; i++) {
  const s = (i - 8192) << 2;
  ULAW_ENCODE[i] = ulawEncodeOne(s);
  ALAW_ENCODE[i] = alawEncodeOne(s);
}

export function ulawEncode(sample: number): number {
  return ULAW_ENCODE[(sample >> 2) + 8192];
}
export function alawEncode(sample: number): number {
  return ALAW_ENCODE[(sample >> 2) + 8192];
}

/** Decodes `src` into `dst` (same length); returns the sample count. */
export function decodeG711(table: Int16Array, src: Uint8Array, dst: Int16Array): number {
  const n = Math.min(src.length, dst.length);
  for (let i = 0; i < n; i++) dst[i] = table[src[i]];
  return n;
}

export function encodeG711(law: 'ulaw' | 'alaw', src: Int16Array, dst: Uint8Array): number {
  const table = law === 'ulaw' ? ULAW_ENCODE : ALAW_ENCODE;
  const n = Math.min(src.length, dst.length);
  for (let i = 0; i < n; i++) dst[i] = table[(src[i] >> 2) + 8192];
  return n;
}

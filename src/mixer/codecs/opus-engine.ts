// The libopus that Parley's Opus codecs drive: Debian's, through the parley-opus addon
// (media/native/parley-opus.c), when it is built; else opusscript's wasm build (opus-wasm.ts).
// The native one decodes a packet's in-band FEC (RFC 6716 §2.1.7: a lost frame rebuilt from
// the redundancy the next packet carries) and conceals a loss of any length; the wasm one
// does neither (opus-codec.ts conceals with a TOC-only packet there) and copies its PCM.
// PARLEY_OPUS=wasm forces the wasm build (a comparison, a suspect addon).
import { loadNativeAddon } from '../../util/native-addon.ts';
import { OpusApplication, OpusWasm } from './opus-wasm.ts';

type Handle = object;

interface OpusAddon {
  decoder(rate: number, channels: number): Handle;
  encoder(rate: number, channels: number, application: number): Handle;
  decode(dec: Handle, packet: Uint8Array | null, out: Int16Array, samples: number, fec: number): number;
  encode(enc: Handle, pcm: Int16Array, samples: number, out: Uint8Array): number;
  ctl(h: Handle, request: number, value: number): number;
  destroy(h: Handle): void;
  version: string;
}

const ERRORS: Record<string, string> = { '-1': 'bad argument', '-2': 'buffer too small', '-3': 'internal error', '-4': 'invalid packet', '-5': 'unimplemented', '-6': 'invalid state', '-7': 'memory allocation failed' };

let loaded: { addon: OpusAddon | null; error: string | null } | null = null;

function addon(): OpusAddon | null {
  if (!loaded) {
    if (process.env.PARLEY_OPUS === 'wasm') loaded = { addon: null, error: 'PARLEY_OPUS=wasm' };
    else loaded = loadNativeAddon<OpusAddon>('parley-opus');
  }
  return loaded.addon;
}

/** Which libopus this thread's codecs use, for the start's log line. */
export function opusEngine(): { native: boolean; version: string | null; why: string | null } {
  const a = addon();
  return a ? { native: true, version: a.version, why: null } : { native: false, version: null, why: loaded?.error ?? null };
}

/** The same in a few words: the native libopus's version, or the wasm build and why. */
export function opusEngineName(): string {
  const e = opusEngine();
  return e.native ? `${e.version} (native)` : `opusscript's wasm build, no in-band FEC (${e.why})`;
}

function fail(what: string, code: number): Error {
  return new Error(`Opus ${what}: ${ERRORS[String(code)] ?? code}`);
}

/** A mono decoder. */
export interface OpusDecoding {
  /** Whether decodeFec() rebuilds a lost frame (the native libopus); else it only conceals. */
  readonly fec: boolean;
  /** One packet into pcm (at most pcm.length samples); the samples written. Throws on a packet libopus refuses. */
  decode(packet: Uint8Array, pcm: Int16Array): number;
  /** `samples` of a loss into pcm; `toc` is the last packet's TOC byte of a 20 ms frame (the wasm build's concealment). */
  conceal(pcm: Int16Array, samples: number, toc: number): number;
  /** The `samples` lost just before packet `next`, from its in-band FEC (concealed when it has none). */
  decodeFec(next: Uint8Array, pcm: Int16Array, samples: number): number;
  delete(): void;
}

/** A mono encoder. */
export interface OpusEncoding {
  encode(pcm: Int16Array, samples: number, out: Uint8Array): number;
  ctl(request: number, value: number): void;
  delete(): void;
}

class NativeDecoder implements OpusDecoding {
  readonly fec = true;
  private readonly h: Handle;
  private deleted = false;
  constructor(private readonly a: OpusAddon, rate: number) {
    this.h = a.decoder(rate, 1);
  }
  decode(packet: Uint8Array, pcm: Int16Array): number {
    const n = this.a.decode(this.h, packet, pcm, pcm.length, 0);
    if (n < 0) throw fail('decode', n);
    return n;
  }
  conceal(pcm: Int16Array, samples: number): number {
    const n = this.a.decode(this.h, null, pcm, samples, 0);
    if (n < 0) throw fail('concealment', n);
    return n;
  }
  decodeFec(next: Uint8Array, pcm: Int16Array, samples: number): number {
    const n = this.a.decode(this.h, next, pcm, samples, 1);
    if (n < 0) throw fail('FEC decode', n);
    return n;
  }
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.a.destroy(this.h);
  }
}

class WasmDecoder implements OpusDecoding {
  readonly fec = false;
  private readonly w: OpusWasm;
  private readonly toc = Buffer.alloc(1);
  constructor(rate: number) {
    this.w = new OpusWasm(rate, 1, OpusApplication.VOIP);
  }
  decode(packet: Uint8Array, pcm: Int16Array): number {
    return copyPcm(this.w.decode(packet), pcm, pcm.length);
  }
  // opusscript cannot ask for a loss of a given length (an empty packet conceals 5,760
  // samples): a packet of only a TOC byte, 20 ms in the last packet's mode, is a 20 ms loss.
  conceal(pcm: Int16Array, samples: number, toc: number): number {
    this.toc[0] = toc;
    return copyPcm(this.w.decode(this.toc), pcm, samples);
  }
  decodeFec(_next: Uint8Array, pcm: Int16Array, samples: number): number {
    pcm.fill(0, 0, samples);
    return 0;
  }
  delete(): void {
    this.w.delete();
  }
}

function copyPcm(bytes: Buffer, pcm: Int16Array, max: number): number {
  const n = Math.min(bytes.length >> 1, max, pcm.length);
  for (let i = 0; i < n; i++) pcm[i] = bytes.readInt16LE(i << 1);
  return n;
}

class NativeEncoder implements OpusEncoding {
  private readonly h: Handle;
  private deleted = false;
  constructor(private readonly a: OpusAddon, rate: number, application: number) {
    this.h = a.encoder(rate, 1, application);
  }
  encode(pcm: Int16Array, samples: number, out: Uint8Array): number {
    const n = this.a.encode(this.h, pcm, samples, out);
    if (n < 0) throw fail('encode', n);
    return n;
  }
  ctl(request: number, value: number): void {
    const r = this.a.ctl(this.h, request, value);
    if (r < 0) throw fail(`encoder CTL ${request}`, r);
  }
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.a.destroy(this.h);
  }
}

class WasmEncoder implements OpusEncoding {
  private readonly w: OpusWasm;
  private input = Buffer.alloc(0);
  constructor(rate: number, application: number) {
    this.w = new OpusWasm(rate, 1, application);
  }
  encode(pcm: Int16Array, samples: number, out: Uint8Array): number {
    if (this.input.length !== samples * 2) this.input = Buffer.alloc(samples * 2);
    for (let i = 0; i < samples; i++) this.input.writeInt16LE(pcm[i], i << 1);
    const packet = this.w.encode(this.input, samples);
    if (packet.length > out.length) throw new Error('Opus encode: buffer too small');
    out.set(packet);
    return packet.length;
  }
  ctl(request: number, value: number): void {
    this.w.encoderCTL(request, value);
  }
  delete(): void {
    this.w.delete();
  }
}

export function opusDecoder(rate: number): OpusDecoding {
  const a = addon();
  return a ? new NativeDecoder(a, rate) : new WasmDecoder(rate);
}

export function opusEncoder(rate: number, application: number = OpusApplication.VOIP): OpusEncoding {
  const a = addon();
  return a ? new NativeEncoder(a, rate, application) : new WasmEncoder(rate, application);
}

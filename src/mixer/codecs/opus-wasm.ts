// libopus through opusscript's wasm build, with buffers that are its own.
//
// opusscript 0.1.1's wrapper (its index.js) mallocs its PCM buffers and then views them
// through HEAPU16.subarray(pointer, …): a Uint16Array indexes elements, not bytes, so the
// views, and every encode's input and decode's output, sit at twice the address malloc gave
// (and its buffers hold a quarter of what the handler may write). Those bytes belong to other
// allocations of the same wasm heap (other codecs' buffers, the allocator's own headers):
// with many codecs in one thread a free() then trapped ("memory access out of bounds" in
// delete(), seen in a test process holding many peers' codecs) or a codec's state could be
// overwritten. This wrapper drives the same compiled handler (OpusScriptHandler) with the
// same data layout (the handler takes and gives one byte of PCM per 16-bit lane) in buffers
// allocated at the size it needs and viewed where they are. One wasm instance per thread,
// as opusscript's; views are taken afresh per call (the heap may grow).
import { createRequire } from 'node:module';

/** What opusscript's compiled module gives (emscripten). */
interface OpusNative {
  HEAPU8: Uint8Array;
  HEAPU16: Uint16Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  OpusScriptHandler: {
    new (rate: number, channels: number, application: number): OpusHandler;
    destroy_handler(h: OpusHandler): void;
  };
}

interface OpusHandler {
  _encode(pcm: number, bytes: number, out: number, frameSize: number): number;
  _decode(packet: number, bytes: number, pcm: number): number;
  _encoder_ctl(ctl: number, arg: number): number;
  _decoder_ctl(ctl: number, arg: number): number;
}

export const OpusApplication = { VOIP: 2048, AUDIO: 2049, RESTRICTED_LOWDELAY: 2051 } as const;

const RATES = [8000, 12000, 16000, 24000, 48000];
/** The handler decodes up to 5,760 samples per channel (120 ms at 48 kHz; an empty packet conceals that many at any rate); an encode takes at most 120 ms. */
const MAX_SAMPLES = 5760;
/** PCM goes one byte per 16-bit lane: four bytes of heap per sample. */
const PCM_BYTES_PER_SAMPLE = 4;
const MAX_PACKET = 1276 * 3;

const ERRORS: Record<string, string> = { '-1': 'bad argument', '-2': 'buffer too small', '-3': 'internal error', '-4': 'invalid packet', '-5': 'unimplemented', '-6': 'invalid state', '-7': 'memory allocation failed' };

let native: OpusNative | null = null;

function opusNative(): OpusNative {
  native ??= (createRequire(import.meta.url)('opusscript/build/opusscript_native_wasm.js') as () => OpusNative)();
  return native;
}

export class OpusWasm {
  private readonly m: OpusNative;
  private readonly handler: OpusHandler;
  private readonly pcmIn: number;
  private readonly pcmOut: number;
  private readonly packetIn: number;
  private readonly packetOut: number;
  private readonly pcmCapacity: number;
  private deleted = false;

  constructor(
    rate: number,
    readonly channels: 1 | 2,
    application: number,
  ) {
    if (!RATES.includes(rate)) throw new RangeError(`${rate} is not an Opus sampling rate`);
    this.m = opusNative();
    this.handler = new this.m.OpusScriptHandler(rate, channels, application);
    this.pcmCapacity = MAX_SAMPLES * channels * PCM_BYTES_PER_SAMPLE;
    this.pcmIn = this.m._malloc(this.pcmCapacity);
    this.pcmOut = this.m._malloc(this.pcmCapacity);
    this.packetIn = this.m._malloc(MAX_PACKET);
    this.packetOut = this.m._malloc(MAX_PACKET);
  }

  /** Encodes `frameSize` samples per channel of 16-bit little-endian PCM (`pcm`: their bytes); the packet is a new Buffer. */
  encode(pcm: Uint8Array, frameSize: number): Buffer {
    if (pcm.length * 2 > this.pcmCapacity) throw new RangeError(`Opus encode: ${pcm.length} bytes of PCM is over 120 ms`);
    // One byte per lane, as the handler reads it (it packs the lanes back into samples in place).
    this.m.HEAPU16.set(pcm, this.pcmIn >> 1);
    const len = this.handler._encode(this.pcmIn, pcm.length, this.packetOut, frameSize);
    if (len < 0) throw new Error(`Opus encode: ${ERRORS[String(len)] ?? len}`);
    return Buffer.from(this.m.HEAPU8.subarray(this.packetOut, this.packetOut + len));
  }

  /** Decodes one packet (an empty one conceals); 16-bit little-endian PCM in a new Buffer. */
  decode(packet: Uint8Array): Buffer {
    if (packet.length > MAX_PACKET) throw new RangeError(`Opus decode: a packet of ${packet.length} bytes`);
    this.m.HEAPU8.set(packet, this.packetIn);
    const len = this.handler._decode(this.packetIn, packet.length, this.pcmOut);
    if (len < 0) throw new Error(`Opus decode: ${ERRORS[String(len)] ?? len}`);
    const lanes = this.pcmOut >> 1;
    // Buffer.from(Uint16Array) takes each lane's low byte: the handler left one byte per lane.
    return Buffer.from(this.m.HEAPU16.subarray(lanes, lanes + len * this.channels * 2));
  }

  encoderCTL(ctl: number, arg: number): void {
    const r = this.handler._encoder_ctl(ctl, arg);
    if (r < 0) throw new Error(`Opus encoder CTL ${ctl}: ${ERRORS[String(r)] ?? r}`);
  }

  setBitrate(bitsPerSecond: number): void {
    this.encoderCTL(4002, bitsPerSecond);
  }

  /** Frees the handler and the buffers. Idempotent. */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.m.OpusScriptHandler.destroy_handler(this.handler);
    for (const p of [this.pcmIn, this.pcmOut, this.packetIn, this.packetOut]) this.m._free(p);
  }
}

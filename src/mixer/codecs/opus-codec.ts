// Opus through libopus (opus-engine.ts: Debian's, through the parley-opus addon, or
// opusscript's wasm build where the addon is not built). It decodes straight to the room
// rate, so no resampling.
// A stream of other than 20 ms packets comes as bundles (opus-packet-splitter.ts): per 20 ms
// slot, the frames that start in it, each a one-frame packet with its offset. They decode in
// order onto a timeline (the carry) that each tick plays 20 ms of: a frame longer than what
// is left of its slot plays on in the next ticks (their bundles are empty), one of 10 ms
// fills half a tick. Each frame is decoded alone, so a 120 ms packet decodes at any rate.
// A lost slot the timeline does not cover is rebuilt from the next packet's in-band FEC
// when that packet is already here (recover(): the jitter buffer holds it; the sender's
// encoder put a low-bitrate copy of each frame in the packet after it, RFC 6716 §2.1.7,
// which Parley asks for with useinbandfec=1), else concealed by libopus itself (§4.4). Told
// nothing, the decoder went on from the frame before the loss as if none had been: a SILK or
// hybrid stream then came out up to 2.2× too loud (6.8 dB) for a few hundred ms and the lost
// slot was silence; concealed, the slot is filled and the level after it stays within 0.1 dB
// on average. At most MAX_CONCEALED slots in a row are concealed; the rest of a longer loss
// is silence.
import { BUNDLE_HEADER, BUNDLE_RECORD } from '../opus-packet-splitter.ts';
import { frameTicksOf } from '../opus-packet.ts';
import type { AudioDecoder, AudioEncoder } from './audio-codec.ts';
import { opusDecoder, opusEncoder, type OpusDecoding, type OpusEncoding } from './opus-engine.ts';

type OpusRate = 8000 | 12000 | 16000 | 24000 | 48000;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;
const OPUS_SET_PACKET_LOSS_PERC = 4014;

/** The carry's length: a frame starts less than 20 ms into its slot and lasts at most 60 ms (RFC 6716 §3.1); room to spare. */
const CARRY_MS = 100;
const TICKS_20MS = 960;
/**
 * Lost slots in a row libopus conceals (60 ms); a longer loss is silence from then on. Its
 * concealment fades a long loss anyway, and the longer it conceals the longer the decoder
 * takes to come back to the stream's level after it.
 */
const MAX_CONCEALED = 3;

export class OpusDecoder implements AudioDecoder {
  private readonly opus: OpusDecoding;
  private readonly frame: number;
  /** A split stream's decoded audio from the start of the next slot to play on: carryLen samples, that slot's RTP timestamp carryTs. */
  private readonly carry: Int16Array;
  private carryLen = 0;
  private carryTs = 0;
  /** Frames of bundles that failed to decode (a frame the parser let through that libopus refused). */
  failed = 0;
  /** Lost slots rebuilt from the next packet's in-band FEC. */
  recovered = 0;
  /** The last packet's TOC byte as a 20 ms frame's (-1: nothing decoded yet): the wasm build conceals with it. */
  private plcToc = -1;
  /** Slots concealed in a row (libopus told of each) since the last packet decoded. */
  private concealedRun = 0;
  constructor(readonly rate: OpusRate) {
    this.opus = opusDecoder(rate);
    this.frame = rate / 50;
    this.carry = new Int16Array((rate * CARRY_MS) / 1000);
  }

  /** A packet of 20 ms. */
  decode(payload: Uint8Array, out: Int16Array): number {
    this.carryLen = 0;
    if (payload.length === 0) return this.conceal(out);
    let n: number;
    try {
      // Into the carry (free here: a 20 ms stream has no timeline), which holds more than a
      // packet of 20 ms decodes to; the slot's 20 ms of it are played.
      n = this.opus.decode(payload, this.carry);
    } catch {
      return this.conceal(out);
    }
    this.plcToc = plcTocOf(payload[0]);
    this.concealedRun = 0;
    n = Math.min(n, this.frame, out.length);
    out.set(this.carry.subarray(0, n));
    if (n < this.frame) out.fill(0, n, this.frame);
    return this.frame;
  }

  /**
   * A lost slot whose next packet is here (`next`, a packet of 20 ms): the slot rebuilt from
   * that packet's in-band FEC (libopus conceals when the packet carries none, as a CELT-only
   * one never does). The wasm build cannot: it conceals.
   */
  recover(next: Uint8Array, out: Int16Array): number {
    if (!this.opus.fec || this.carryLen !== 0 || this.plcToc < 0 || next.length === 0) return this.conceal(out);
    try {
      this.carryLen = this.opus.decodeFec(next, this.carry, this.frame);
    } catch {
      return this.conceal(out);
    }
    this.recovered++;
    return this.play(out);
  }

  /** A 20 ms slot of a split stream: its bundle's frames onto the timeline, then the slot's 20 ms of it. */
  decodeBundle(bundle: Uint8Array, out: Int16Array): number {
    const ts = ((bundle[0] << 24) | (bundle[1] << 16) | (bundle[2] << 8) | bundle[3]) >>> 0;
    // The timeline is at this slot unless the jitter buffer skipped one (shed, overflow): then it moves on to it.
    const skip = (ts - this.carryTs) | 0;
    if (skip !== 0) {
      const s = this.samples(skip);
      if (skip > 0 && s < this.carryLen) {
        this.carry.copyWithin(0, s, this.carryLen);
        this.carryLen -= s;
      } else this.carryLen = 0;
      this.carryTs = ts;
    }
    let pos = BUNDLE_HEADER;
    while (pos + BUNDLE_RECORD < bundle.length) {
      const off = (bundle[pos] << 8) | bundle[pos + 1];
      const len = (bundle[pos + 2] << 8) | bundle[pos + 3];
      const at0 = pos + BUNDLE_RECORD;
      pos = at0 + len;
      if (len === 0 || pos > bundle.length) break;
      // A gap before the frame (a lost packet's frames) is silence, as a lost 20 ms packet is.
      let at = this.samples(off);
      if (at < this.carryLen) at = this.carryLen;
      else if (at > this.carryLen) this.carry.fill(0, this.carryLen, Math.min(at, this.carry.length));
      const room = this.carry.length - at;
      if (room <= 0) continue;
      let n: number;
      try {
        n = this.opus.decode(bundle.subarray(at0, at0 + len), this.carry.subarray(at));
        this.plcToc = plcTocOf(bundle[at0]);
        this.concealedRun = 0;
      } catch {
        this.failed++;
        n = Math.min(this.samples(frameTicksOf(bundle[at0])), room);
        this.carry.fill(0, at, at + n);
      }
      this.carryLen = at + n;
    }
    return this.play(out);
  }

  /**
   * A lost slot: what the timeline holds of it (a long frame of the slot before covers it),
   * else libopus's concealment of 20 ms (silence before any packet, or where the timeline
   * holds part of the slot).
   */
  conceal(out: Int16Array): number {
    if (this.carryLen === 0 && this.plcToc >= 0 && this.concealedRun < MAX_CONCEALED) {
      this.concealedRun++;
      try {
        this.carryLen = this.opus.conceal(this.carry, this.frame, this.plcToc);
      } catch {
        // Nothing concealed: the slot is silence.
      }
    }
    return this.play(out);
  }

  close(): void {
    this.opus.delete();
  }

  /** The next 20 ms of the timeline into out (silence where it holds none); the timeline moves on. */
  private play(out: Int16Array): number {
    const f = this.frame;
    const n = Math.min(f, this.carryLen);
    if (n > 0) out.set(this.carry.subarray(0, n));
    if (n < f) out.fill(0, n, f);
    if (this.carryLen > f) this.carry.copyWithin(0, f, this.carryLen);
    this.carryLen = Math.max(0, this.carryLen - f);
    this.carryTs = (this.carryTs + TICKS_20MS) >>> 0;
    return f;
  }

  private samples(ticks: number): number {
    return Math.round((ticks * this.rate) / 48000);
  }
}

/**
 * The TOC byte (RFC 6716 §3.1) of a one-frame, 20 ms packet in the mode and bandwidth of a
 * packet's TOC: SILK configs 0–11 (10/20/40/60 ms per bandwidth), hybrid 12–15 (10/20 ms),
 * CELT 16–31 (2.5/5/10/20 ms); the stereo bit kept, frame count code 0.
 */
export function plcTocOf(toc: number): number {
  const c = toc >> 3;
  const c20 = c < 12 ? c - (c % 4) + 1 : c < 16 ? c - (c % 2) + 1 : c - (c % 4) + 3;
  return (c20 << 3) | (toc & 0x04);
}

export class OpusEncoder implements AudioEncoder {
  private readonly opus: OpusEncoding;
  private readonly frame: number;
  /**
   * `fec`: the receiver asked for in-band FEC (its useinbandfec=1): each packet then carries
   * a low-bitrate copy of the frame before it (SILK and hybrid modes; libopus adds it only
   * while it expects loss, so a loss rate of 10 % is set).
   */
  constructor(readonly rate: OpusRate, complexity = 3, fec = false) {
    this.opus = opusEncoder(rate);
    this.opus.ctl(OPUS_SET_COMPLEXITY, complexity);
    this.opus.ctl(OPUS_SET_INBAND_FEC, fec ? 1 : 0);
    if (fec) this.opus.ctl(OPUS_SET_PACKET_LOSS_PERC, 10);
    this.frame = rate / 50;
  }
  encode(pcm: Int16Array, out: Uint8Array): number {
    return this.opus.encode(pcm, this.frame, out);
  }
  close(): void {
    this.opus.delete();
  }
}

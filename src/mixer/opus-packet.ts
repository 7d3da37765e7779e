// Reading an Opus packet's framing (RFC 6716 §3.1 TOC byte, §3.2 frame packing) without
// decoding it: how many frames it holds, how long each is, where each one's bytes are.
// The mixer needs this to place a packet of any legal length (2.5 to 120 ms) on its 20 ms
// grid (opus-packet-splitter.ts), and to drop a malformed packet before it reaches the
// jitter buffer or the decoder: the requirements R1-R7 of §3.4 are checked here, and a
// packet that breaks one is refused (§3.4: "a receiver MUST NOT process packets that
// violate any of the rules above as normal Opus packets").
// Allocation-free: the result goes into a caller's preallocated OpusPacket.

/** RTP clock ticks (48 kHz, RFC 7587 §4.1) of 20 ms, the mixer's frame. */
export const TICKS_20MS = 960;
/** The longest packet (RFC 6716 §3.2.5: at most 120 ms of audio). */
export const MAX_PACKET_TICKS = 5760;
/** The most frames a packet may hold: 120 ms of 2.5 ms frames (§3.2.5: M ≤ 48). */
export const MAX_FRAMES = 48;
/** The largest frame (§3.2.1, R2). */
const MAX_FRAME_BYTES = 1275;

/** Ticks (48 kHz) of one frame of each TOC configuration 0..31 (RFC 6716 §3.1, Table 2). */
const SILK = [480, 960, 1920, 2880]; // SILK-only: 10, 20, 40, 60 ms
const CELT = [120, 240, 480, 960]; // CELT-only: 2.5, 5, 10, 20 ms
export function frameTicksOf(toc: number): number {
  const config = toc >> 3;
  if (config < 12) return SILK[config & 3];
  if (config < 16) return (config & 1) === 0 ? 480 : 960; // hybrid: 10, 20 ms
  return CELT[config & 3];
}

/** One packet's framing; `offsets`/`lengths` are valid for its first `count` frames. */
export interface OpusPacket {
  toc: number;
  count: number;
  /** Ticks (48 kHz) of each frame; the packet lasts count × frameTicks. */
  frameTicks: number;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  /** Why the last packet read was refused ('' when it was not). */
  error: string;
}

export function newOpusPacket(): OpusPacket {
  return { toc: 0, count: 0, frameTicks: 0, offsets: new Int32Array(MAX_FRAMES), lengths: new Int32Array(MAX_FRAMES), error: '' };
}

function fail(p: OpusPacket, why: string): number {
  p.count = 0;
  p.error = why;
  return -1;
}

/** A frame length as §3.2.1 codes it (1 or 2 bytes) at data[at]: the length, or -1 when its bytes run past `end`. */
function lengthAt(data: Uint8Array, at: number, end: number, p: { used: number }): number {
  if (at >= end) return -1;
  const b0 = data[at];
  if (b0 < 252) {
    p.used = 1;
    return b0;
  }
  if (at + 1 >= end) return -1;
  p.used = 2;
  return b0 + 4 * data[at + 1];
}
const used = { used: 0 };

/**
 * Reads `data` as one Opus packet into `p`: its duration in ticks (48 kHz), or -1 when it
 * is malformed (`p.error` says why).
 */
export function readOpusPacket(data: Uint8Array, p: OpusPacket): number {
  const n = data.length;
  if (n < 1) return fail(p, 'empty (R1)');
  const toc = data[0];
  p.toc = toc;
  p.error = '';
  const ticks = frameTicksOf(toc);
  p.frameTicks = ticks;
  const code = toc & 3;
  const { offsets, lengths } = p;
  if (code === 0) {
    if (n - 1 > MAX_FRAME_BYTES) return fail(p, 'frame over 1275 bytes (R2)');
    offsets[0] = 1;
    lengths[0] = n - 1;
    p.count = 1;
    return ticks;
  }
  if (code === 1) {
    if ((n - 1) % 2 !== 0) return fail(p, 'code 1 with an odd length (R3)');
    const half = (n - 1) / 2;
    if (half > MAX_FRAME_BYTES) return fail(p, 'frame over 1275 bytes (R2)');
    offsets[0] = 1;
    lengths[0] = half;
    offsets[1] = 1 + half;
    lengths[1] = half;
    p.count = 2;
    return 2 * ticks;
  }
  if (code === 2) {
    const first = lengthAt(data, 1, n, used);
    if (first < 0) return fail(p, 'code 2 truncated in its frame length (R4)');
    const at = 1 + used.used;
    if (first > n - at) return fail(p, 'code 2 first frame past the end (R4)');
    const second = n - at - first;
    if (first > MAX_FRAME_BYTES || second > MAX_FRAME_BYTES) return fail(p, 'frame over 1275 bytes (R2)');
    offsets[0] = at;
    lengths[0] = first;
    offsets[1] = at + first;
    lengths[1] = second;
    p.count = 2;
    return 2 * ticks;
  }
  // Code 3 (§3.2.5): a frame count byte, optional padding, CBR or VBR frames.
  if (n < 2) return fail(p, 'code 3 without its frame count byte (R6)');
  const fc = data[1];
  const count = fc & 0x3f;
  if (count === 0) return fail(p, 'code 3 with 0 frames (R5)');
  if (count * ticks > MAX_PACKET_TICKS) return fail(p, `code 3 of ${(count * ticks) / 48} ms, over 120 ms (R5)`);
  let at = 2;
  let end = n;
  if (fc & 0x40) {
    // Padding length: bytes of 255 add 254 each and go on; the last (0..254) ends it.
    let pad = 0;
    for (;;) {
      if (at >= n) return fail(p, 'code 3 truncated in its padding length (R6)');
      const b = data[at++];
      pad += b === 255 ? 254 : b;
      if (b !== 255) break;
    }
    end = n - pad;
    if (end < at) return fail(p, 'code 3 padding longer than the packet (R6, R7)');
  }
  if ((fc & 0x80) === 0) {
    // CBR: the rest split evenly.
    const rest = end - at;
    if (rest % count !== 0) return fail(p, 'code 3 CBR frames of unequal length (R6)');
    const each = rest / count;
    if (each > MAX_FRAME_BYTES) return fail(p, 'frame over 1275 bytes (R2)');
    for (let i = 0; i < count; i++) {
      offsets[i] = at + i * each;
      lengths[i] = each;
    }
  } else {
    // VBR: count-1 coded lengths, the last frame is what is left.
    let total = 0;
    for (let i = 0; i < count - 1; i++) {
      const len = lengthAt(data, at, end, used);
      if (len < 0) return fail(p, 'code 3 truncated in its frame lengths (R7)');
      if (len > MAX_FRAME_BYTES) return fail(p, 'frame over 1275 bytes (R2)');
      lengths[i] = len;
      at += used.used;
      total += len;
    }
    if (total > end - at) return fail(p, 'code 3 frames past the end (R7)');
    const last = end - at - total;
    if (last > MAX_FRAME_BYTES) return fail(p, 'frame over 1275 bytes (R2)');
    lengths[count - 1] = last;
    for (let i = 0; i < count; i++) {
      offsets[i] = at;
      at += lengths[i];
    }
  }
  p.count = count;
  return count * ticks;
}

// Opus packets of any legal length (2.5 to 120 ms; RFC 6716 §3.2, RFC 7587 §4.2) onto the
// mixer's 20 ms grid. The mixer plays one jitter buffer entry per 20 ms tick, and phones and
// gateways send what they are set to: 10 ms packets (low-latency settings, some WebRTC
// gateways), 40 or 60 ms (a=ptime:40/60), 80 to 120 ms (satellite and low-bandwidth links,
// a=maxptime:120), frames of 2.5 or 5 ms. Unlike G.711 (packet-reframer.ts), Opus cannot be
// cut by bytes, but a packet is a run of frames (§3.2) and each frame decodes on its own
// once re-wrapped as a one-frame packet. So the stream's frames are placed on a grid of its
// own timestamps (slot k starts at the first such packet's timestamp + 960·k and is numbered
// its sequence number + k), and each slot becomes one jitter buffer entry: the frames that
// start in it (a "bundle": each frame with its offset in the slot), or an empty bundle for a
// slot a longer frame that started before it covers (opus-codec.ts decodes a bundle's frames
// in order onto a timeline, and plays 20 ms of it each tick). 10 ms packets: two frames
// to an entry; a 120 ms packet of two 60 ms frames: the first and fourth of six entries.
// A slot no frame covers (its packet was lost) gets no entry: the jitter buffer conceals it
// as a lost one. A slot is sent once the frames reach its end, or when a later frame shows
// that the rest of it was lost; a partial one left at the stream's end goes out in flush().
// A stream of 20 ms packets never comes here; once one packet of another length did, the
// whole stream does (one numbering), whatever its later packets' lengths. Frames wholly
// before the grid's position are late or duplicates and are dropped (as the reframer drops
// late bytes); a timestamp jump of over 10 s starts a new grid, as does a new SSRC after
// reset(). A jump's new grid numbers its slots on from the last one's (a packet's own sequence
// number is behind them with longer packets, ahead with shorter ones: the jitter buffer
// dropped a new grid's slots as late, or waited through a jump, until it started over); after
// reset() the packet's number is taken: the splice (stream-splice.ts) moved a new stream's
// numbers on from the last slot the jitter buffer got.

import { TICKS_20MS, type OpusPacket } from './opus-packet.ts';

/** The jitter slot payload type of a bundle (outside RTP's 7 bits: never a wire packet's). */
export const OPUS_BUNDLE_PT = 0x80;
/** Bundle layout: the slot's RTP timestamp (4 bytes), then per frame: offset in the slot (ticks, 2), length (2), the one-frame packet (TOC byte with code 0, the frame). */
export const BUNDLE_HEADER = 4;
export const BUNDLE_RECORD = 4;
/** A jitter buffer slot's size. */
const MAX_BUNDLE = 1500;
const REBASE_TICKS = 480_000;

/** Receives each 20 ms slot's bundle (valid only during the call). */
export type OpusBundleSink = (seq: number, timestamp: number, bundle: Uint8Array) => void;

export interface OpusSplitStats {
  /** Packets whose frames all lay before the grid's position (late, duplicate). */
  late: number;
  /** Frames dropped because their slot's bundle was full (no real stream comes near). */
  overflow: number;
}

export class OpusPacketSplitter {
  readonly stats: OpusSplitStats = { late: 0, overflow: 0 };
  private active = false;
  private baseSeq = 0;
  /** A grid of this stream ran before: a new one (a timestamp jump) numbers its slots on from it. */
  private numbered = false;
  private baseTs = 0;
  /** The slot being filled, and where the audio placed so far ends (ticks from the base). */
  private k = 0;
  private cover = 0;
  private readonly bundle = new Uint8Array(MAX_BUNDLE);
  private fill = BUNDLE_HEADER;

  constructor(private readonly sink: OpusBundleSink) {}

  /** Whether the current stream's packets are split here (their sequence numbers are then the grid's). */
  get splitting(): boolean {
    return this.active;
  }

  /** Whether a packet of `ticks` (48 kHz) must come here (and then every later one of the stream). */
  takes(ticks: number): boolean {
    return this.active || ticks !== TICKS_20MS;
  }

  /** A new stream (SSRC) or codec: the next packet decides again. */
  reset(): void {
    this.active = false;
    this.numbered = false;
    this.fill = BUNDLE_HEADER;
  }

  /** The stream ends (the leg drains): a slot still waiting for the rest of its frames goes out. */
  flush(): void {
    if (!this.active) return;
    if (this.fill > BUNDLE_HEADER || this.cover > this.k * TICKS_20MS) this.emit();
    this.k++;
    this.fill = BUNDLE_HEADER;
  }

  /** A packet read by readOpusPacket (`data` its payload). */
  push(seq: number, ts: number, data: Uint8Array, p: OpusPacket): void {
    if (!this.active) this.rebase(seq, ts);
    let rel = (ts - this.baseTs) | 0;
    if (rel - this.cover > REBASE_TICKS || this.cover - rel > REBASE_TICKS) {
      // The slot in progress goes out (as flush(), but no number is skipped when there is none).
      if (this.fill > BUNDLE_HEADER || this.cover > this.k * TICKS_20MS) {
        this.emit();
        this.k++;
      }
      this.rebase(seq, ts);
      rel = 0;
    }
    const d = p.frameTicks;
    const end = rel + p.count * d;
    if (end <= this.cover) {
      this.stats.late++;
      return;
    }
    // Frames before the grid's position are dropped; one overlapping it (a sender's timestamps
    // a little off) and those after it are placed right after what came before.
    let first = 0;
    if (rel < this.cover) {
      first = Math.floor((this.cover - rel) / d);
      rel = this.cover - first * d;
    }
    for (let i = first; i < p.count; i++) {
      const start = rel + i * d;
      const slot = Math.floor(start / TICKS_20MS);
      if (slot > this.k) this.moveTo(slot);
      this.add(start - slot * TICKS_20MS, p.toc, data, p.offsets[i], p.lengths[i]);
      this.cover = start + d;
      // Slots the audio now reaches past go out: this one, and those a long frame covers whole.
      while (this.cover >= (this.k + 1) * TICKS_20MS) {
        this.emit();
        this.k++;
        this.fill = BUNDLE_HEADER;
      }
    }
  }

  /** On to slot `slot` (a later frame came): the slot in progress goes out with what it has (the rest of it was lost). */
  private moveTo(slot: number): void {
    if (this.fill > BUNDLE_HEADER || this.cover > this.k * TICKS_20MS) this.emit();
    this.fill = BUNDLE_HEADER;
    this.k = slot;
  }

  private add(offset: number, toc: number, data: Uint8Array, at: number, len: number): void {
    const b = this.bundle;
    if (this.fill + BUNDLE_RECORD + 1 + len > MAX_BUNDLE) {
      this.stats.overflow++;
      return;
    }
    const f = this.fill;
    b[f] = offset >> 8;
    b[f + 1] = offset & 0xff;
    b[f + 2] = (len + 1) >> 8;
    b[f + 3] = (len + 1) & 0xff;
    b[f + 4] = toc & 0xfc; // code 0: one frame
    b.set(data.subarray(at, at + len), f + 5);
    this.fill = f + BUNDLE_RECORD + 1 + len;
  }

  private emit(): void {
    const ts = (this.baseTs + this.k * TICKS_20MS) >>> 0;
    const b = this.bundle;
    b[0] = ts >>> 24;
    b[1] = (ts >>> 16) & 0xff;
    b[2] = (ts >>> 8) & 0xff;
    b[3] = ts & 0xff;
    this.sink((this.baseSeq + this.k) & 0xffff, ts, b.subarray(0, this.fill));
  }

  private rebase(seq: number, ts: number): void {
    this.baseSeq = this.numbered ? (this.baseSeq + this.k) & 0xffff : seq;
    this.numbered = true;
    this.active = true;
    this.baseTs = ts;
    this.k = 0;
    this.cover = 0;
    this.fill = BUNDLE_HEADER;
  }
}

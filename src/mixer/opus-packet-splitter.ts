// Opus packets of 40 or 60 ms (a phone set to a=ptime:40 or 60: RFC 7587 §4.2 lets a sender
// put up to 120 ms in a packet, whatever the answer's a=ptime). The mixer plays one jitter
// buffer entry per 20 ms tick, so such a stream played 20 ms of every packet and underran
// for the rest (a 60 ms stream: 20 ms of audio, 20 ms at half level, 20 ms of silence).
// Unlike G.711 (packet-reframer.ts), Opus cannot be cut by bytes: one SILK frame may span
// 40 or 60 ms. So the packet goes into the jitter buffer whole, as the first of its 20 ms
// frames, followed by an empty entry for each further 20 ms; the decoder decodes the packet
// at the first and plays the rest of its audio at the empty ones (opus-codec.ts), and
// conceals those whose packet was lost. Frames are numbered on a grid of the stream's own
// timestamps (frame k starts at the first such packet's timestamp + 960·k and is numbered its
// sequence number + k), so the jitter buffer and the recorders see an ordinary 20 ms stream.
// A stream of 20 ms packets never comes here; once one packet did, the whole stream does (one
// numbering). A timestamp jump of over 10 s starts a new grid; late or duplicate frames are
// left to the jitter buffer (it drops them).

/** RTP clock ticks (48 kHz, RFC 7587 §4.1) of one 20 ms frame. */
const FRAME_TS = 960;
const REBASE_TICKS = 480_000;
/** The longest packet split here (the decoder's limit: opus-codec.ts). */
const MAX_FRAMES = 3;
const EMPTY = new Uint8Array(0);

/** Receives each 20 ms frame: the packet for the first, an empty payload for the others. */
export type OpusFrameSink = (seq: number, timestamp: number, marker: boolean, payload: Uint8Array) => void;

/** Samples at 48 kHz of one frame of each TOC configuration 0..31 (RFC 6716 §3.1, Table 2). */
const SILK = [480, 960, 1920, 2880]; // SILK-only: 10, 20, 40, 60 ms
const CELT = [120, 240, 480, 960]; // CELT-only: 2.5, 5, 10, 20 ms
function frameTicks(config: number): number {
  if (config < 12) return SILK[config & 3];
  if (config < 16) return (config & 1) === 0 ? 480 : 960; // hybrid: 10, 20 ms
  return CELT[config & 3];
}

/** How many 20 ms frames an Opus packet holds (RFC 6716 §3.1, §3.2), or 0 when not a whole number of them (or malformed). */
export function opusFrames20(payload: Uint8Array): number {
  if (payload.length === 0) return 0;
  const toc = payload[0];
  const code = toc & 3;
  let count = 1;
  if (code === 1 || code === 2) count = 2;
  else if (code === 3) {
    if (payload.length < 2) return 0;
    count = payload[1] & 0x3f;
  }
  const ticks = count * frameTicks(toc >> 3);
  return ticks % FRAME_TS === 0 ? ticks / FRAME_TS : 0;
}

export class OpusPacketSplitter {
  private active = false;
  private baseSeq = 0;
  private baseTs = 0;

  constructor(private readonly sink: OpusFrameSink) {}

  /** Whether the current stream's packets are split here (their sequence numbers are then the grid's). */
  get splitting(): boolean {
    return this.active;
  }

  /** Whether this packet must come here (and then every later one of the stream). */
  takes(payload: Uint8Array): boolean {
    if (this.active) return true;
    const n = opusFrames20(payload);
    return n > 1 && n <= MAX_FRAMES;
  }

  /** A new stream (SSRC) or codec: the next packet decides again. */
  reset(): void {
    this.active = false;
  }

  push(seq: number, ts: number, marker: boolean, payload: Uint8Array): void {
    if (!this.active) this.rebase(seq, ts);
    let rel = (ts - this.baseTs) | 0;
    if (rel > REBASE_TICKS || rel < -REBASE_TICKS) {
      this.rebase(seq, ts);
      rel = 0;
    }
    // A packet off the grid (its sender's clock moved by other than 20 ms steps): to the nearest frame.
    const k = Math.round(rel / FRAME_TS);
    const n = Math.min(Math.max(opusFrames20(payload), 1), MAX_FRAMES);
    const first = this.baseTs + k * FRAME_TS;
    this.sink((this.baseSeq + k) & 0xffff, first >>> 0, marker, payload);
    for (let i = 1; i < n; i++) this.sink((this.baseSeq + k + i) & 0xffff, (first + i * FRAME_TS) >>> 0, false, EMPTY);
  }

  private rebase(seq: number, ts: number): void {
    this.active = true;
    this.baseSeq = seq;
    this.baseTs = ts;
  }
}

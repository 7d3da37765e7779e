// The mixer plays one 20 ms frame per tick, and Parley answers a=ptime:20; but ptime is
// only a wish (RFC 4566 §6, RFC 3264 §6.1), and phones in the field send what they are
// set to: 30 ms G.711 (some Cisco and Polycom sets), 10, 40 or 60 ms from others. Played
// one packet per tick, a 30 ms stream lost a third of its audio and then underran. G.711
// and G.722 carry one byte per 8 kHz clock tick, so their packets cut and join at any
// byte: this turns such a stream into 20 ms frames on a grid of its own timestamps
// (frame k starts at the first packet's timestamp + 160·k, and is numbered the first
// packet's sequence number + k), so the jitter buffer, the forwarder and the recorders
// downstream see an ordinary 20 ms stream. A stream of 20 ms packets never comes here.
// A frame a loss left partly empty is filled with the codec's silence; bytes the grid has
// passed (late or duplicate) are dropped; a timestamp jump of over 10 s starts a new grid.
// Opus frames cannot be cut this way (its packets of 40 or 60 ms are not handled).
import type { CodecName } from './codecs/audio-codec.ts';

/** Bytes of a 20 ms frame of G.711 or G.722 (one per 8 kHz clock tick). */
export const FRAME_BYTES = 160;
const REBASE_TICKS = 80_000;

/** Receives each 20 ms frame; `frame` is only valid during the call. */
export type FrameSink = (seq: number, timestamp: number, marker: boolean, frame: Uint8Array) => void;

/** The byte a codec's silence is made of, or null for a codec whose packets cannot be cut (opus). */
function silenceOf(codec: CodecName): number | null {
  if (codec === 'PCMU' || codec === 'G722') return 0xff;
  if (codec === 'PCMA') return 0xd5;
  return null;
}

export class PacketReframer {
  /** Whether the current stream goes through here (from its first packet that was not 20 ms). */
  private active = false;
  private silence: number | null;
  private baseSeq = 0;
  private baseTs = 0;
  /** The frame being filled, and how many of its bytes are. */
  private k = 0;
  private fill = 0;
  private marker = false;
  private readonly frame = new Uint8Array(FRAME_BYTES);

  constructor(
    codec: CodecName,
    private readonly sink: FrameSink,
  ) {
    this.silence = silenceOf(codec);
  }

  /** A new stream (SSRC), or a new codec: the next packet decides again. */
  reset(codec?: CodecName): void {
    if (codec !== undefined) this.silence = silenceOf(codec);
    this.active = false;
    this.fill = 0;
  }

  /** Whether the current stream's packets are cut here (their sequence numbers are then the grid's). */
  get reframing(): boolean {
    return this.active;
  }

  /** Whether a packet of this payload length must come here (and then every later one of the stream). */
  takes(length: number): boolean {
    return this.active || (this.silence !== null && length !== FRAME_BYTES && length > 0);
  }

  push(seq: number, ts: number, marker: boolean, payload: Uint8Array): void {
    if (!this.active) this.rebase(seq, ts);
    let rel = (ts - this.baseTs) | 0;
    let at = this.k * FRAME_BYTES + this.fill;
    if (rel - at > REBASE_TICKS || at - rel > REBASE_TICKS) {
      if (this.fill > 0) this.emit();
      this.rebase(seq, ts);
      rel = 0;
      at = 0;
    }
    // Bytes before `at` are late or a duplicate: the grid has them (or played a gap for them).
    let off = rel < at ? at - rel : 0;
    if (off >= payload.length) return;
    this.marker ||= marker;
    const frame = this.frame;
    while (off < payload.length) {
      const p = rel + off;
      const k = Math.floor(p / FRAME_BYTES);
      if (k !== this.k) {
        // A gap (loss): the frame in progress goes out filled with silence, the grid moves on.
        if (this.fill > 0) this.emit();
        this.k = k;
        this.fill = 0;
      }
      const start = p - k * FRAME_BYTES;
      if (start > this.fill) frame.fill(this.silence!, this.fill, start);
      const n = Math.min(payload.length - off, FRAME_BYTES - start);
      for (let i = 0; i < n; i++) frame[start + i] = payload[off + i];
      this.fill = start + n;
      off += n;
      if (this.fill === FRAME_BYTES) {
        this.emit();
        this.k++;
        this.fill = 0;
      }
    }
  }

  private rebase(seq: number, ts: number): void {
    this.active = true;
    this.baseSeq = seq;
    this.baseTs = ts;
    this.k = 0;
    this.fill = 0;
  }

  private emit(): void {
    if (this.fill < FRAME_BYTES) this.frame.fill(this.silence!, this.fill);
    this.sink((this.baseSeq + this.k) & 0xffff, (this.baseTs + this.k * FRAME_BYTES) >>> 0, this.marker, this.frame);
    this.marker = false;
  }
}

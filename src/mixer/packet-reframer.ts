// The mixer plays one 20 ms frame per tick, and Parley answers a=ptime:20; but ptime is
// only a wish (RFC 4566 §6, RFC 3264 §6.1), and phones in the field send what they are
// set to: 30 ms G.711 (some Cisco and Polycom sets), 10, 40 or 60 ms from others. Played
// one packet per tick, a 30 ms stream lost a third of its audio and then underran. G.711
// and G.722 carry one byte per 8 kHz clock tick, so their packets cut and join at any
// byte: this turns such a stream into 20 ms frames on a grid of its own timestamps
// (frame k starts at the first packet's timestamp + 160·k, and is numbered the first
// packet's sequence number + k), so the jitter buffer, the forwarder and the recorders
// downstream see an ordinary 20 ms stream. A stream of 20 ms packets never comes here.
// Bytes the grid has passed (late or duplicate) are dropped; a timestamp jump of over 10 s
// starts a new grid, as does a new SSRC after reset(). A jump's new grid numbers its frames
// on from the last one's (whatever the packet's own sequence number), so the jitter buffer
// downstream sees one stream go on; after reset() the first packet's number is taken: the
// splice (stream-splice.ts) has moved a new stream's numbers on from the last frame the
// jitter buffer got, whether a grid's or a 20 ms stream's that bypassed the grid. Opus cannot be cut this way: its packets are split by their frames
// (opus-packet-splitter.ts).
//
// A frame a loss left partly empty: G.711 is stateless, so the missing bytes are its
// silence (µ-law 0xff, A-law 0xd5: the codes of a zero sample). G.722 has no silence byte:
// it is ADPCM, each code a step relative to the decoder's prediction, so no byte means
// "nothing" whatever state the decoder is in. 0xff, once used here, is the smallest step in
// both bands: a run of it shrank the decoder's step sizes, so after each gap the audio came
// back faded in over some 40 ms. Codes of silence from an encoder at rest mislead the
// decoder the same way (measured: a like fade). So a G.722 frame whose
// end is missing goes out short, its real bytes only (the decoder decodes them, the rest
// of the 20 ms is zeros: codec-pipeline.ts); one whose start is missing is not sent at all,
// and the jitter buffer conceals it as a lost frame (silence) from the frames around it.
//
// A partial frame waits for the rest of its bytes. A pause leaves it waiting until the next
// packet completes it or, after a gap, sends it. At the stream's end flush() sends it: a
// record-only leg drains when its room ends (other legs' jitter buffers are dropped then,
// and it with them). reset() drops it (a new SSRC or codec: a partial frame of the old stream is not completed by the new one).
import type { CodecName } from './codecs/audio-codec.ts';

/** Bytes of a 20 ms frame of G.711 or G.722 (one per 8 kHz clock tick). */
export const FRAME_BYTES = 160;
const REBASE_TICKS = 80_000;

/** Receives each 20 ms frame; `frame` is only valid during the call. */
export type FrameSink = (seq: number, timestamp: number, marker: boolean, frame: Uint8Array) => void;

/** A codec whose gaps are not filled (G.722, see above). */
const NO_FILL = -1;

/** The byte a codec's silence is made of, NO_FILL, or null for a codec whose packets cannot be cut (opus). */
function silenceOf(codec: CodecName): number | null {
  if (codec === 'PCMU') return 0xff;
  if (codec === 'PCMA') return 0xd5;
  if (codec === 'G722') return NO_FILL;
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
  /** NO_FILL codecs: the frame in progress lost its start (it is not sent). */
  private broken = false;
  /** A grid of this stream ran before: a new one (a timestamp jump) numbers its frames on from it. */
  private numbered = false;
  private readonly frame = new Uint8Array(FRAME_BYTES);

  constructor(
    codec: CodecName,
    private readonly sink: FrameSink,
  ) {
    this.silence = silenceOf(codec);
  }

  /** A new stream (SSRC), or a new codec: the next packet decides again, and its number (the splice's) is the new grid's. */
  reset(codec?: CodecName): void {
    if (codec !== undefined) this.silence = silenceOf(codec);
    this.active = false;
    this.numbered = false;
    this.fill = 0;
    this.broken = false;
  }

  /** The stream ends (the leg drains): the partial frame in progress goes out now. */
  flush(): void {
    if (!this.active || this.fill === 0) return;
    this.emit();
    this.k++;
    this.fill = 0;
    this.broken = false;
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
      if (this.fill > 0) {
        this.emit();
        this.k++;
      }
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
        // A gap (loss): the frame in progress goes out (G.711: filled with silence; G.722: see above), the grid moves on.
        if (this.fill > 0) this.emit();
        this.k = k;
        this.fill = 0;
        this.broken = false;
      }
      const start = p - k * FRAME_BYTES;
      if (start > this.fill) {
        if (this.silence === NO_FILL) this.broken = true;
        else frame.fill(this.silence!, this.fill, start);
      }
      const n = Math.min(payload.length - off, FRAME_BYTES - start);
      // One set() from a view of the payload (a view, not a copy), not a JS loop per byte.
      frame.set(n === payload.length ? payload : payload.subarray(off, off + n), start);
      this.fill = start + n;
      off += n;
      if (this.fill === FRAME_BYTES) {
        this.emit();
        this.k++;
        this.fill = 0;
        this.broken = false;
      }
    }
  }

  private rebase(seq: number, ts: number): void {
    // A jump: the jitter buffer has seen the old grid's numbers, 1.5 frames per 30 ms packet: a new
    // grid numbered from a packet's own sequence number went back by a third of the stream's length
    // and all its frames were late (dropped) until the buffer, empty for 200 ms, started over.
    this.baseSeq = this.numbered ? (this.baseSeq + this.k) & 0xffff : seq;
    this.numbered = true;
    this.active = true;
    this.baseTs = ts;
    this.k = 0;
    this.fill = 0;
    this.broken = false;
  }

  private emit(): void {
    if (this.broken) return; // NO_FILL: its start is missing, the jitter buffer conceals it
    let frame = this.frame;
    if (this.fill < FRAME_BYTES) {
      if (this.silence !== NO_FILL) frame.fill(this.silence!, this.fill);
      else frame = frame.subarray(0, this.fill); // NO_FILL: its end is missing, its own bytes only (a loss: rare)
    }
    this.sink((this.baseSeq + this.k) & 0xffff, (this.baseTs + this.k * FRAME_BYTES) >>> 0, this.marker, frame);
    this.marker = false;
  }
}

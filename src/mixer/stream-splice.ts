// A leg's RTP across a change of SSRC (an SBC re-anchoring the media, a transfer
// behind it, a phone restarting its stream): the new stream's sequence numbers and
// timestamps are moved to continue the previous one's, so the jitter buffer goes on
// (what it holds of the old stream still plays, and is recorded: up to a second of a
// record-only SIPREC stream) instead of starting over. The new stream's first packet
// follows the newest one before it by one sequence number, and by the time between
// their arrivals in timestamp (whole 20 ms frames, at least one): a record-only
// buffer, which places packets by timestamp, keeps the stream's timeline across the
// change. A change is an audio packet's; other packets of the stream's SSRC
// (telephone-event) are moved alike, those of another SSRC left as they are (a gateway
// sending its events from an SSRC of their own changes nothing). The first stream
// keeps its own numbers. "The newest packet" is the newest the jitter buffer was given
// (took()), not the newest on the wire: a stream cut onto the 20 ms grid (packets of
// 30 ms, 60 ms Opus: packet-reframer.ts, opus-packet-splitter.ts) is numbered by the
// grid, ahead of its wire numbers (1.5 frames per 30 ms packet, 3 per 60 ms one) or
// behind them (10 ms packets); a new stream continuing the wire numbers was behind
// what the buffer had played, its frames dropped as late until the buffer, empty for
// 200 ms, started over.
// An empty packet of the stream (no audio; RFC 6263 keep-alives) takes no place in it: the
// numbers after it close up over it (closeUp), so the jitter buffer sees no hole to conceal.
// Only the numbers after it: packets arrive out of order, and one from before it that comes
// after it keeps its place (when every number from then on moved down, it moved onto its
// predecessor's: a duplicate, its frame dropped). And an empty packet that comes after
// packets from after it were numbered cannot close up any more (they would move onto
// numbers already taken): its number stays a hole, which the jitter buffer is told to play
// over (JitterBuffer.skip; a listener the packets were forwarded to has them already).
// A packet of the stream before the change that the network held back past it (numbered before the new
// stream's first, after its newest packet given: SsrcProbation lets only such through) is aligned as its
// stream was, into its place before the change (`late`): the jitter buffer plays it if it has not played
// past it yet, else counts it late. It changes nothing (a packet of it numbered after the new stream's first
// is a change back, as any other SSRC's).
// Hot path: nothing is allocated per packet.
import { FRAME_MS } from './frames.ts';
import { seqDiff } from './jitter-buffer.ts';
import type { RtpView } from './rtp.ts';

/** Empty packets remembered by their place in the stream: a packet from before one of the last CLOSED_RING that comes after it keeps its place. */
const CLOSED_RING = 16;
/** A packet of the stream before the last change this far before the new stream's first number at most is one held back past the change (SsrcProbation's window). */
const LATE_SPAN = 64;
/** Sequence numbers this far behind a packet's are not compared with it (16-bit numbers wrap). */
const CLOSED_SPAN = 3000;

/** closeUp(): the numbers after the empty packet moved down over it (or it was closed up over already). */
export const CLOSED = 0;
/** closeUp(): packets after it were numbered already: its number (v.seq) stays a hole in the stream, to be played over. */
export const HOLE = 1;
/** closeUp(): not a packet of the stream. */
export const NOT_STREAM = 2;

export class StreamSplice {
  private ssrc = -1;
  private seqShift = 0;
  private tsShift = 0;
  /** The newest frame given to the jitter buffer (took()): its sequence number, timestamp and arrival. */
  private newestSeq = -1;
  private newestTs = 0;
  private newestMs = 0;
  /** Timestamp units in 20 ms at the stream's RTP clock. */
  private frameTs = 0;
  /** The last packet aligned, if it was the stream's: its number before closing up (-1: another's). */
  private lastSeq = -1;
  /** Empty packets closed up over in this stream, and the latest of them (numbers before closing up; -1: none), a ring. */
  private closed = 0;
  private readonly closedSeqs = new Int32Array(CLOSED_RING).fill(-1);
  private closedAt = 0;
  /** The stream before the last change: its SSRC (-1: none), shifts and empty packets closed up over; the new stream's first number. */
  private prevSsrc = -1;
  private prevSeqShift = 0;
  private prevTsShift = 0;
  private prevClosed = 0;
  private boundary = 0;

  constructor(rtpClock: number) {
    this.setClock(rtpClock);
  }

  /** The stream's clock changed (a re-offer moved it to another codec). */
  setClock(rtpClock: number): void {
    this.frameTs = (rtpClock * FRAME_MS) / 1000;
  }

  /** Streams seen after the first (changes of SSRC). */
  changes = 0;

  /**
   * The last packet aligned is one of the stream before the last change that the network held back past it
   * (numbered before the new stream's first): aligned as that stream was, into its place before the change.
   */
  late = false;

  /** The last packet aligned came ahead of the stream's newest by more than one number: the one before it may still come (overtaken). */
  skippedBefore = false;
  /** The newest number aligned of the stream, any payload type (-1: none yet). */
  private wireTop = -1;

  /** Moves `v`'s sequence number and timestamp onto the leg's one timeline (in place); `audio`: it is the stream's audio. */
  align(v: RtpView, nowMs: number, audio = true): void {
    this.late = false;
    this.skippedBefore = false;
    if (v.ssrc !== this.ssrc) {
      this.lastSeq = -1;
      if (!audio) return;
      if (v.ssrc === this.prevSsrc) {
        const seq = (v.seq + this.prevSeqShift - this.prevClosed) & 0xffff;
        if (seqDiff(seq, this.boundary) < 0 && seqDiff(seq, this.boundary) >= -LATE_SPAN) {
          v.seq = seq;
          v.timestamp = (v.timestamp + this.prevTsShift) >>> 0;
          this.late = true;
          return;
        }
      }
      this.prevSsrc = this.ssrc;
      this.prevSeqShift = this.seqShift;
      this.prevTsShift = this.tsShift;
      this.prevClosed = this.closed;
      this.boundary = (this.newestSeq + 1) & 0xffff;
      if (this.ssrc !== -1 && this.newestSeq >= 0) {
        const frames = Math.max(1, Math.round((nowMs - this.newestMs) / FRAME_MS));
        this.seqShift = (this.newestSeq + 1 - v.seq) & 0xffff;
        this.tsShift = (this.newestTs + frames * this.frameTs - v.timestamp) >>> 0;
        this.changes++;
      }
      this.ssrc = v.ssrc;
      // The new stream goes on after the newest frame: the old one's empty packets are behind it.
      if (this.closed !== 0) {
        this.closed = 0;
        this.closedSeqs.fill(-1);
      }
    }
    const seq = (v.seq + this.seqShift) & 0xffff;
    this.lastSeq = seq;
    v.seq = this.closed === 0 ? seq : this.closedUp(seq);
    if (this.tsShift !== 0) v.timestamp = (v.timestamp + this.tsShift) >>> 0;
    // Numbers skipped before this packet (none of the stream's, any payload type, came with them yet).
    const ahead = this.wireTop < 0 ? 1 : seqDiff(v.seq, this.wireTop);
    this.skippedBefore = ahead >= 2;
    if (ahead > 0) this.wireTop = v.seq;
  }

  /**
   * `v` (just aligned), a packet of the stream that takes no place in it (an empty one: no audio,
   * a keep-alive, RFC 6263 §4.6): the numbers after it close up over it (CLOSED), so the jitter
   * buffer sees no hole to conceal; HOLE when a packet after it was numbered already (see above).
   */
  closeUp(v: RtpView): number {
    const seq = this.lastSeq;
    if (v.ssrc !== this.ssrc || seq < 0) return NOT_STREAM;
    for (let i = 0; i < CLOSED_RING; i++) if (this.closedSeqs[i] === seq) return CLOSED; // a duplicate
    if (this.newestSeq >= 0 && seqDiff(v.seq, this.newestSeq) <= 0) return HOLE;
    this.closed++;
    this.closedSeqs[this.closedAt] = seq;
    this.closedAt = (this.closedAt + 1) % CLOSED_RING;
    return CLOSED;
  }

  /** `seq` (aligned to the stream) once the empty packets before it are closed up over. */
  private closedUp(seq: number): number {
    // Every one closed up over moves it down, but for those of them still after it (it came late).
    let n = seq - this.closed;
    for (let i = 0; i < CLOSED_RING; i++) {
      const e = this.closedSeqs[i];
      if (e < 0) continue;
      const d = seqDiff(e, seq);
      if (d > 0) n++;
      else if (d < -CLOSED_SPAN) this.closedSeqs[i] = -1; // long past: no packet from before it is coming
    }
    return n & 0xffff;
  }

  /** A frame went into the jitter buffer with these numbers (a packet's aligned ones, or the grid's): a new stream follows the newest. */
  took(seq: number, ts: number, nowMs: number): void {
    if (this.newestSeq < 0 || seqDiff(seq, this.newestSeq) > 0) {
      this.newestSeq = seq;
      this.newestTs = ts;
      this.newestMs = nowMs;
    }
  }
}

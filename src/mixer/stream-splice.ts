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
// 200 ms, started over. Hot path: nothing is allocated per packet.
import { FRAME_MS } from './frames.ts';
import { seqDiff } from './jitter-buffer.ts';
import type { RtpView } from './rtp.ts';

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

  constructor(rtpClock: number) {
    this.setClock(rtpClock);
  }

  /** The stream's clock changed (a re-offer moved it to another codec). */
  setClock(rtpClock: number): void {
    this.frameTs = (rtpClock * FRAME_MS) / 1000;
  }

  /** Streams seen after the first (changes of SSRC). */
  changes = 0;

  /** Moves `v`'s sequence number and timestamp onto the leg's one timeline (in place); `audio`: it is the stream's audio. */
  align(v: RtpView, nowMs: number, audio = true): void {
    if (v.ssrc !== this.ssrc) {
      if (!audio) return;
      if (this.ssrc !== -1 && this.newestSeq >= 0) {
        const frames = Math.max(1, Math.round((nowMs - this.newestMs) / FRAME_MS));
        this.seqShift = (this.newestSeq + 1 - v.seq) & 0xffff;
        this.tsShift = (this.newestTs + frames * this.frameTs - v.timestamp) >>> 0;
        this.changes++;
      }
      this.ssrc = v.ssrc;
    }
    if (this.seqShift !== 0 || this.tsShift !== 0) {
      v.seq = (v.seq + this.seqShift) & 0xffff;
      v.timestamp = (v.timestamp + this.tsShift) >>> 0;
    }
  }

  /**
   * `v` (aligned), a packet of the stream that takes no place in it (an empty one: no audio, a
   * keep-alive, RFC 6263 §4.6): the numbers after it close up over it, so the jitter buffer sees
   * no hole to conceal. False when it is not the stream's or is behind its newest frame (reordered).
   */
  closeUp(v: RtpView): boolean {
    if (v.ssrc !== this.ssrc || (this.newestSeq >= 0 && seqDiff(v.seq, this.newestSeq) <= 0)) return false;
    this.seqShift = (this.seqShift - 1) & 0xffff;
    return true;
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

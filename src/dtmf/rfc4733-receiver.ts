// RFC 4733 telephone-event receiver for one leg, any number of SSRCs. An
// event is one RTP timestamp (§2.5.1.2); its end packet is sent three times
// (§2.5.1.4), so a digit is reported when the first end packet arrives, or
// when a newer event or silence shows that all end packets were lost. Some
// senders reuse one timestamp for a repeated digit: a non-end packet with a
// later sequence number than the reported end starts a new event.
import { DTMF_DIGITS, type DtmfEvent } from './dtmf-event.ts';
import { seqDiff } from '../mixer/jitter-buffer.ts';

const LOST_END_TIMEOUT_MS = 1000;

interface StreamState {
  timestamp: number;
  digit: string;
  duration: number;
  ended: boolean;
  lastSeq: number;
  lastPacketMs: number;
}

export class Rfc4733Receiver {
  private readonly streams = new Map<number, StreamState>();

  constructor(
    private readonly clockRate: number,
    private readonly onDigit: (e: DtmfEvent) => void,
  ) {}

  handle(ssrc: number, seq: number, timestamp: number, payload: Uint8Array, nowMs: number): void {
    if (payload.length < 4) return;
    const code = payload[0];
    if (code >= DTMF_DIGITS.length) return; // flash and other events are not digits
    const digit = DTMF_DIGITS[code];
    const end = (payload[1] & 0x80) !== 0;
    const duration = (payload[2] << 8) | payload[3];
    const st = this.streams.get(ssrc);
    if (st && seqDiff(seq, st.lastSeq) <= 0) return; // reordered or duplicated
    if (st && st.timestamp === timestamp && !(st.ended && !end)) {
      st.lastSeq = seq;
      st.lastPacketMs = nowMs;
      if (st.ended) return; // end retransmission (§2.5.1.4)
      if (duration > st.duration) st.duration = duration;
      if (end) this.finish(st);
      return;
    }
    if (st && !st.ended) this.finish(st); // its end packets were all lost
    const next: StreamState = { timestamp, digit, duration, ended: false, lastSeq: seq, lastPacketMs: nowMs };
    this.streams.set(ssrc, next);
    if (end) this.finish(next);
  }

  /** Reports events whose end never came; called once per tick. */
  poll(nowMs: number): void {
    for (const st of this.streams.values()) {
      if (!st.ended && nowMs - st.lastPacketMs > LOST_END_TIMEOUT_MS) this.finish(st);
    }
  }

  private finish(st: StreamState): void {
    st.ended = true;
    this.onDigit({ digit: st.digit, durationMs: Math.round((st.duration * 1000) / this.clockRate), source: 'rfc4733' });
  }
}

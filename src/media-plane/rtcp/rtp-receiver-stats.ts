// What we measure as receiver of one RTP source (RFC 3550 A.1, A.3, A.8):
// extended highest sequence number with wrap and reordering, expected and lost
// packets, fraction lost per report interval, interarrival jitter.
//
// update() runs per received packet, so all state lives in one Float64Array:
// stores into it never allocate, whatever representation V8 picks for fields
// that hold values above 2^31 (SSRCs, extended sequence numbers).

const RTP_SEQ_MOD = 65536;
/** A.1: a forward jump of less than this is in-order (with loss). */
const MAX_DROPOUT = 3000;
/** A.1: a backward jump of at most this is a late (reordered) or duplicate packet. */
const MAX_MISORDER = 100;

// Indexes into the state array.
const ACTIVE = 0; // 1 once a source is being measured
const SSRC = 1;
const BASE_SEQ = 2;
const MAX_SEQ = 3;
const BAD_SEQ = 4;
const CYCLES = 5; // shifted count of sequence wraps (A.1: a multiple of 65536)
const RECEIVED = 6;
const EXPECTED_PRIOR = 7;
const RECEIVED_PRIOR = 8;
const HAVE_TRANSIT = 9;
const LAST_ARRIVAL = 10; // arrival of the previous packet, in timestamp units
const LAST_TS = 11;
const JITTER = 12; // A.8, in timestamp units
const FRACTION = 13; // fraction lost of the last closed interval, 0..255
const STATE_SIZE = 14;

export class RtpReceiverStats {
  private readonly s = new Float64Array(STATE_SIZE);

  get active(): boolean {
    return this.s[ACTIVE] === 1;
  }
  get ssrc(): number {
    return this.s[SSRC];
  }
  get received(): number {
    return this.s[RECEIVED];
  }
  /** A.3: extended highest sequence number, not reduced mod 2^32 (the writer does that). */
  get extendedMax(): number {
    return this.s[CYCLES] + this.s[MAX_SEQ];
  }
  get expected(): number {
    return this.active ? this.extendedMax - this.s[BASE_SEQ] + 1 : 0;
  }
  /** A.3: expected − received; negative when duplicates arrived. */
  get cumulativeLost(): number {
    return this.expected - this.s[RECEIVED];
  }
  get jitterUnits(): number {
    return this.s[JITTER];
  }
  /** Fraction lost (0..255, §6.4.1) of the interval closed by the last closeInterval(). */
  get lastFraction(): number {
    return this.s[FRACTION];
  }

  /** Forget everything: no source is measured until the next packet. */
  clear(): void {
    this.s.fill(0);
  }

  /** Per received packet (hot path: no allocation). arrivalUnits = arrival time × clock rate. */
  update(ssrc: number, seq: number, rtpTimestamp: number, arrivalUnits: number): void {
    const s = this.s;
    if (s[ACTIVE] === 0 || s[SSRC] !== ssrc) {
      // A new source restarts the statistics (§8.2: a new SSRC is a new stream).
      s.fill(0);
      s[ACTIVE] = 1;
      s[SSRC] = ssrc;
      this.initSeq(seq);
    } else if (!this.updateSeq(seq)) {
      return;
    }
    s[RECEIVED]++;
    this.updateJitter(rtpTimestamp, arrivalUnits);
  }

  /**
   * Closes a report interval (A.3): the fraction lost since the previous one, as the
   * 8-bit fixed-point value of §6.4.1. Zero when nothing was expected or when
   * duplicates outnumbered losses.
   */
  closeInterval(): number {
    const s = this.s;
    const expected = this.expected;
    const expectedInterval = expected - s[EXPECTED_PRIOR];
    const receivedInterval = s[RECEIVED] - s[RECEIVED_PRIOR];
    s[EXPECTED_PRIOR] = expected;
    s[RECEIVED_PRIOR] = s[RECEIVED];
    const lostInterval = expectedInterval - receivedInterval;
    s[FRACTION] = expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
    if (s[FRACTION] > 255) s[FRACTION] = 255;
    return s[FRACTION];
  }

  /** The codec's clock changed: keep the jitter's meaning in seconds and restart the transit reference. */
  rescaleClock(oldRate: number, newRate: number): void {
    this.s[JITTER] = (this.s[JITTER] * newRate) / oldRate;
    this.s[HAVE_TRANSIT] = 0;
  }

  /** A.1 init_seq. */
  private initSeq(seq: number): void {
    const s = this.s;
    s[BASE_SEQ] = seq;
    s[MAX_SEQ] = seq;
    s[BAD_SEQ] = RTP_SEQ_MOD + 1; // so seq == bad_seq is false
    s[CYCLES] = 0;
    s[RECEIVED] = 0;
    s[RECEIVED_PRIOR] = 0;
    s[EXPECTED_PRIOR] = 0;
    // A sender that renumbered has likely moved its timestamps too: restart the
    // transit reference, keep the jitter estimate (A.1's init_seq leaves it alone).
    s[HAVE_TRANSIT] = 0;
  }

  /** A.1 update_seq without probation; false when the packet is not counted. */
  private updateSeq(seq: number): boolean {
    const s = this.s;
    const udelta = (seq - s[MAX_SEQ] + RTP_SEQ_MOD) % RTP_SEQ_MOD;
    if (udelta < MAX_DROPOUT) {
      // In order, with permissible gap; wrapped when the new number is smaller.
      if (seq < s[MAX_SEQ]) s[CYCLES] += RTP_SEQ_MOD;
      s[MAX_SEQ] = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // A very large jump: two sequential packets of that kind mean the sender
      // restarted its numbering (A.1), otherwise the packet is ignored.
      if (seq === s[BAD_SEQ]) {
        this.initSeq(seq);
      } else {
        s[BAD_SEQ] = (seq + 1) & (RTP_SEQ_MOD - 1);
        return false;
      }
    }
    // Otherwise a duplicate or a late packet: counted, max unchanged (A.1).
    return true;
  }

  /** A.8: J += (|D| − J) / 16, D from the transit times of consecutive arrivals. */
  private updateJitter(rtpTimestamp: number, arrivalUnits: number): void {
    const s = this.s;
    if (s[HAVE_TRANSIT] === 1) {
      // Timestamp difference as a signed 32-bit value: wrap-safe (§5.1 timestamps are mod 2^32).
      const tsDelta = (rtpTimestamp - s[LAST_TS]) | 0;
      const d = arrivalUnits - s[LAST_ARRIVAL] - tsDelta;
      s[JITTER] += (Math.abs(d) - s[JITTER]) / 16;
    }
    s[HAVE_TRANSIT] = 1;
    s[LAST_ARRIVAL] = arrivalUnits;
    s[LAST_TS] = rtpTimestamp;
  }
}

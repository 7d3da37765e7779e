// Receiver-side frame accounting for one leg, the same for any server under
// test (Parley, Janus): it sees only arrival times and RTP timestamps.
//
// - expected frames: the span between the first and last packet received in
//   the window, in 20 ms frames, plus one. A server that never produced some
//   frames leaves a hole in the span; one that sent them late still fills it.
// - missing frames: expected − received (never negative).
// - late frames: each packet's offset is its arrival time minus its place on
//   the leg's own RTP-timestamp grid (timestamp delta / clock rate). The
//   leg's earliest offset is its best-case path; a packet arriving more than
//   LATE_MS after that is late: a receiver with a one-frame jitter buffer
//   would already have played a concealment frame in its place.
// - a timestamp jump (more than a second away from the arrival delta) or a new
//   SSRC is a resync, as for any receiver: the grid continues from the packet
//   before, and the resync is counted.
export const FRAME_MS = 20;
const RESYNC_MS = 1000;
export const LATE_MS = 20;

export interface GridSummary {
  received: number;
  expected: number;
  missing: number;
  late: number;
  /** Offsets above the leg's earliest, in ms: 99th percentile and largest. */
  offsetP99Ms: number;
  offsetMaxMs: number;
  /** Timestamp jumps and SSRC changes seen. */
  resyncs: number;
}

export class ArrivalGrid {
  private readonly offsets: Float64Array;
  private count = 0;
  private firstAt = 0;
  private lastAt = 0;
  private lastTs = 0;
  private ssrc = 0;
  /** Media time of the last packet since the first, in ms. */
  private mediaMs = 0;
  private resyncs = 0;

  constructor(
    capacity: number,
    private readonly clockRate = 8000,
  ) {
    this.offsets = new Float64Array(capacity);
  }

  reset(): void {
    this.count = 0;
    this.resyncs = 0;
  }

  /** One packet received at atMs (monotonic clock) carrying RTP timestamp ts from ssrc. */
  record(atMs: number, ts: number, ssrc = 0): void {
    if (this.count === 0) {
      this.firstAt = atMs;
      this.mediaMs = 0;
    } else {
      // Signed 32-bit difference: the timestamp may wrap, a packet may be reordered.
      const stepMs = (((ts - this.lastTs) | 0) * 1000) / this.clockRate;
      const arrivalStepMs = atMs - this.lastAt;
      if (ssrc !== this.ssrc || Math.abs(stepMs - arrivalStepMs) > RESYNC_MS) {
        this.resyncs++;
        this.mediaMs += arrivalStepMs;
      } else {
        this.mediaMs += stepMs;
      }
    }
    this.lastTs = ts;
    this.ssrc = ssrc;
    this.lastAt = atMs;
    if (this.count < this.offsets.length) this.offsets[this.count] = atMs - this.firstAt - this.mediaMs;
    this.count++;
  }

  summary(): GridSummary {
    if (this.count === 0) return { received: 0, expected: 0, missing: 0, late: 0, offsetP99Ms: 0, offsetMaxMs: 0, resyncs: 0 };
    const n = Math.min(this.count, this.offsets.length);
    let min = Infinity;
    for (let i = 0; i < n; i++) if (this.offsets[i] < min) min = this.offsets[i];
    let late = 0;
    for (let i = 0; i < n; i++) if (this.offsets[i] - min > LATE_MS) late++;
    const sorted = this.offsets.slice(0, n).sort();
    const expected = Math.round((this.lastAt - this.firstAt) / FRAME_MS) + 1;
    return {
      received: this.count,
      expected,
      missing: Math.max(0, expected - this.count),
      late,
      offsetP99Ms: sorted[Math.min(n - 1, Math.floor(0.99 * n))] - min,
      offsetMaxMs: sorted[n - 1] - min,
      resyncs: this.resyncs,
    };
  }
}

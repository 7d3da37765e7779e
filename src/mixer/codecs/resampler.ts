// Integer-ratio resampler (8 ↔ 16 ↔ 48 kHz) whose filters pass a leg's band
// flat: 0–3.4 kHz for 8 kHz legs, 0–7 kHz for 16 kHz legs (within ±0.005 dB),
// with the images and aliases beyond it attenuated by about 70 dB
// (resampler-filters.ts has the design). Filters run in polyphase form (only
// the taps that meet a non-zero input sample, only the output samples kept);
// 2:1 uses a half-band filter, whose zero taps are skipped, and decimation
// folds the symmetric taps (one multiply per pair). State carries across
// frames, so there are no clicks at frame edges. process() allocates nothing.
//
// Speed (bench/resampler-cost.ts): the 8 ↔ 16 kHz half-band, every
// narrowband leg in a 16 kHz room, is written out with its taps in locals;
// interpolation by 3 and 6 loads each input once for all phases, decimation
// each tap once for two outputs; tap arrays are zero-padded to multiples of 4
// so loops take whole steps.
import { halfBand, polyphaseLowPass } from './resampler-filters.ts';

type Kernel = 'up2' | 'down2' | 'up3' | 'up6' | 'up' | 'down';

/**
 * Side taps of the 8 ↔ 16 kHz half-band (resampler-filters.ts) that the
 * written-out kernels below are made for; a half-band of any other size runs
 * through the general kernels.
 */
const HALF_BAND_K = 16;

function roundUp4(n: number): number {
  return (n + 3) & ~3;
}

export class Resampler {
  /**
   * Frames resampled on this thread since it started, by every Resampler (a codec's,
   * a prompt's, a recorder's): what shows that a narrowband call runs none (test,
   * media-thread stats).
   */
  static framesRun = 0;
  readonly up: number;
  readonly down: number;
  private readonly kernel: Kernel;
  /** Samples of the previous input kept in front of the new one. */
  private readonly hist: number;
  private readonly maxInput: number;
  /** hist samples of history, then the current input (as floats). */
  private readonly work: Float64Array;
  /**
   * Half-band: the 16 side taps, scaled for this direction's gain.
   * General up: L phases of T taps, phase p at [p·T, p·T+T), tap k meeting input i−k
   * (up3, up6: by tap, then phase: tap k of phase p at L·k+p).
   * General down: the first half of the symmetric prototype, zero-padded to T
   * (taps k and N−1−k share one multiply).
   */
  private readonly taps: Float64Array;
  /** Taps per phase (general up), folded pairs (general down), side taps (half-band). */
  private readonly T: number;
  /** General down: the centre tap and the prototype's length − 1. */
  private readonly centre: number;
  private readonly span: number;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    maxInput = 960,
  ) {
    if (fromRate === toRate) throw new Error('Resampler needs different rates');
    if (toRate % fromRate === 0) {
      this.up = toRate / fromRate;
      this.down = 1;
    } else if (fromRate % toRate === 0) {
      this.up = 1;
      this.down = fromRate / toRate;
    } else {
      throw new Error(`unsupported resampling ${fromRate} → ${toRate}`);
    }
    this.maxInput = maxInput;
    this.centre = 0;
    this.span = 0;
    const lowRate = Math.min(fromRate, toRate);
    const hb = this.up === 2 || this.down === 2 ? halfBand(lowRate) : null;
    if (hb && hb.side.length === HALF_BAND_K) {
      const { side } = hb;
      const K = HALF_BAND_K;
      // Up: the zero-stuffed input needs a gain of 2 (one of every two samples is real).
      const gain = this.up === 2 ? 2 : 1;
      const taps = new Float64Array(K);
      for (let j = 0; j < K; j++) taps[j] = gain * side[j];
      this.taps = taps;
      this.T = K;
      this.kernel = this.up === 2 ? 'up2' : 'down2';
      this.hist = this.up === 2 ? 2 * K - 1 : 4 * K - 2;
    } else if (this.up > 1) {
      const L = this.up;
      const { h } = polyphaseLowPass(lowRate, L);
      const T = roundUp4(Math.ceil(h.length / L));
      const taps = new Float64Array(L * T);
      for (let p = 0; p < L; p++) {
        // Each phase gets a DC gain of exactly 1: a constant comes out constant,
        // with no ripple at the input rate.
        let sum = 0;
        for (let k = 0; p + k * L < h.length; k++) sum += h[p + k * L];
        for (let k = 0; p + k * L < h.length; k++) taps[p * T + k] = h[p + k * L] / sum;
      }
      this.T = T;
      this.hist = T - 1;
      if (L === 3 || L === 6) {
        // up3/up6 read each input sample once for all phases: taps by k, then phase.
        const byK = new Float64Array(L * T);
        for (let k = 0; k < T; k++) for (let p = 0; p < L; p++) byK[L * k + p] = taps[p * T + k];
        this.taps = byK;
        this.kernel = L === 3 ? 'up3' : 'up6';
      } else {
        this.taps = taps;
        this.kernel = 'up';
      }
    } else {
      const { h } = polyphaseLowPass(lowRate, this.down);
      const half = (h.length - 1) / 2;
      // Zero pairs past the centre read samples inside the window: harmless.
      const taps = new Float64Array(roundUp4(half));
      taps.set(h.subarray(0, half));
      this.taps = taps;
      this.T = taps.length;
      this.centre = h[half];
      this.span = h.length - 1;
      this.kernel = 'down';
      this.hist = h.length - 1;
    }
    this.work = new Float64Array(this.hist + maxInput);
  }

  /** Output length for an input of n samples. */
  outLength(n: number): number {
    return (n * this.up) / this.down;
  }

  /**
   * Resamples src into dst; returns samples written. src holds a whole number of
   * `down` samples, at most maxInput; dst holds at least outLength(src.length).
   */
  process(src: Int16Array, dst: Int16Array): number {
    const n = src.length;
    if (n > this.maxInput || n % this.down !== 0 || dst.length < (n * this.up) / this.down) {
      throw new RangeError(`Resampler ${this.fromRate}→${this.toRate}: bad frame (${n} in, ${dst.length} out)`);
    }
    Resampler.framesRun++;
    const { work, hist } = this;
    for (let i = 0; i < n; i++) work[hist + i] = src[i];
    let o: number;
    switch (this.kernel) {
      case 'up2':
        o = this.up2(n, dst);
        break;
      case 'down2':
        o = this.down2(n, dst);
        break;
      case 'up3':
        o = this.up3(n, dst);
        break;
      case 'up6':
        o = this.up6(n, dst);
        break;
      case 'up':
        o = this.upL(n, dst);
        break;
      default:
        o = this.downM(n, dst);
    }
    work.copyWithin(0, n, n + hist);
    return o;
  }

  // 2:1 half-band of 63 taps (K = 16 side taps a half, centre c = 31), written
  // out with its taps in locals: twice as fast as a loop over the taps array.
  // Up: output 2i gets the side taps around input time i−15½, output 2i+1 is
  // input i−15 itself (centre tap 0.5, times the gain of 2); both are c output
  // samples late.
  private up2(n: number, dst: Int16Array): number {
    const { work, taps, hist } = this;
    const c0 = taps[0], c1 = taps[1], c2 = taps[2], c3 = taps[3], c4 = taps[4], c5 = taps[5], c6 = taps[6], c7 = taps[7];
    const c8 = taps[8], c9 = taps[9], c10 = taps[10], c11 = taps[11], c12 = taps[12], c13 = taps[13], c14 = taps[14], c15 = taps[15];
    let o = 0;
    for (let i = 0; i < n; i++) {
      const a = hist + i - HALF_BAND_K; // the older half walks down from here
      const b = a + 1; // the newer half walks up from here
      const acc =
        c0 * (work[a] + work[b]) + c1 * (work[a - 1] + work[b + 1]) + (c2 * (work[a - 2] + work[b + 2]) + c3 * (work[a - 3] + work[b + 3])) +
        (c4 * (work[a - 4] + work[b + 4]) + c5 * (work[a - 5] + work[b + 5]) + (c6 * (work[a - 6] + work[b + 6]) + c7 * (work[a - 7] + work[b + 7]))) +
        (c8 * (work[a - 8] + work[b + 8]) + c9 * (work[a - 9] + work[b + 9]) + (c10 * (work[a - 10] + work[b + 10]) + c11 * (work[a - 11] + work[b + 11])) +
          (c12 * (work[a - 12] + work[b + 12]) + c13 * (work[a - 13] + work[b + 13]) + (c14 * (work[a - 14] + work[b + 14]) + c15 * (work[a - 15] + work[b + 15]))));
      dst[o++] = round16(acc);
      dst[o++] = round16(work[b]);
    }
    return o;
  }

  // Down: one output per second input (the odd ones): centre tap 0.5 at c
  // samples back from the newest, side taps at c ± (2j+1).
  private down2(n: number, dst: Int16Array): number {
    const { work, taps, hist } = this;
    const c0 = taps[0], c1 = taps[1], c2 = taps[2], c3 = taps[3], c4 = taps[4], c5 = taps[5], c6 = taps[6], c7 = taps[7];
    const c8 = taps[8], c9 = taps[9], c10 = taps[10], c11 = taps[11], c12 = taps[12], c13 = taps[13], c14 = taps[14], c15 = taps[15];
    let o = 0;
    for (let i = 1; i < n; i += 2) {
      const m = hist + i - (2 * HALF_BAND_K - 1); // the centre sample
      const acc =
        0.5 * work[m] +
        (c0 * (work[m - 1] + work[m + 1]) + c1 * (work[m - 3] + work[m + 3]) + (c2 * (work[m - 5] + work[m + 5]) + c3 * (work[m - 7] + work[m + 7])) +
          (c4 * (work[m - 9] + work[m + 9]) + c5 * (work[m - 11] + work[m + 11]) + (c6 * (work[m - 13] + work[m + 13]) + c7 * (work[m - 15] + work[m + 15])))) +
        (c8 * (work[m - 17] + work[m + 17]) + c9 * (work[m - 19] + work[m + 19]) + (c10 * (work[m - 21] + work[m + 21]) + c11 * (work[m - 23] + work[m + 23])) +
          (c12 * (work[m - 25] + work[m + 25]) + c13 * (work[m - 27] + work[m + 27]) + (c14 * (work[m - 29] + work[m + 29]) + c15 * (work[m - 31] + work[m + 31]))));
      dst[o++] = round16(acc);
    }
    return o;
  }

  // 1:3 (16 → 48 kHz, every wideband leg in a 48 kHz room): the three phases
  // share each input sample's load.
  private up3(n: number, dst: Int16Array): number {
    const { work, taps, T, hist } = this;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const b = hist + i;
      let a0 = 0, a1 = 0, a2 = 0;
      let b0 = 0, b1 = 0, b2 = 0;
      for (let k = 0; k < T; k += 2) {
        const x = work[b - k];
        const y = work[b - k - 1];
        const t = 3 * k;
        a0 += taps[t] * x;
        a1 += taps[t + 1] * x;
        a2 += taps[t + 2] * x;
        b0 += taps[t + 3] * y;
        b1 += taps[t + 4] * y;
        b2 += taps[t + 5] * y;
      }
      dst[o++] = round16(a0 + b0);
      dst[o++] = round16(a1 + b1);
      dst[o++] = round16(a2 + b2);
    }
    return o;
  }

  // 1:6 (8 → 48 kHz, every narrowband leg in a 48 kHz room), likewise.
  private up6(n: number, dst: Int16Array): number {
    const { work, taps, T, hist } = this;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const b = hist + i;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0;
      for (let k = 0; k < T; k++) {
        const x = work[b - k];
        const t = 6 * k;
        a0 += taps[t] * x;
        a1 += taps[t + 1] * x;
        a2 += taps[t + 2] * x;
        a3 += taps[t + 3] * x;
        a4 += taps[t + 4] * x;
        a5 += taps[t + 5] * x;
      }
      dst[o++] = round16(a0);
      dst[o++] = round16(a1);
      dst[o++] = round16(a2);
      dst[o++] = round16(a3);
      dst[o++] = round16(a4);
      dst[o++] = round16(a5);
    }
    return o;
  }

  private upL(n: number, dst: Int16Array): number {
    const { work, taps, T, hist } = this;
    const L = this.up;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const b = hist + i;
      for (let p = 0; p < L; p++) {
        const base = p * T;
        let acc = 0;
        for (let k = 0; k < T; k += 4) {
          const t = base + k;
          const w = b - k;
          acc += (taps[t] * work[w] + taps[t + 1] * work[w - 1]) + (taps[t + 2] * work[w - 2] + taps[t + 3] * work[w - 3]);
        }
        dst[o++] = round16(acc);
      }
    }
    return o;
  }

  // Decimation by M: two outputs a pass (M input samples apart), so each tap
  // is loaded once for both (about a fifth faster); an odd last one alone.
  private downM(n: number, dst: Int16Array): number {
    const { work, taps, T, hist, centre, span } = this;
    const M = this.down;
    const half = span / 2;
    const outputs = n / M;
    let o = 0;
    let newest = hist + M - 1;
    for (; o + 1 < outputs; newest += 2 * M) {
      const oldest = newest - span;
      let acc = centre * work[newest - half];
      let acc2 = centre * work[newest + M - half];
      for (let k = 0; k < T; k += 2) {
        const a = newest - k;
        const b = oldest + k;
        const t0 = taps[k];
        const t1 = taps[k + 1];
        acc += t0 * (work[a] + work[b]) + t1 * (work[a - 1] + work[b + 1]);
        acc2 += t0 * (work[a + M] + work[b + M]) + t1 * (work[a + M - 1] + work[b + M + 1]);
      }
      dst[o++] = round16(acc);
      dst[o++] = round16(acc2);
    }
    if (o < outputs) {
      const oldest = newest - span;
      let acc = centre * work[newest - half];
      for (let k = 0; k < T; k++) acc += taps[k] * (work[newest - k] + work[oldest + k]);
      dst[o++] = round16(acc);
    }
    return o;
  }
}

/** Clamps to 16 bit and rounds half up (one add and a truncation instead of Math.round). */
function round16(v: number): number {
  return v >= 32767 ? 32767 : v <= -32768 ? -32768 : ((v + 32768.5) | 0) - 32768;
}

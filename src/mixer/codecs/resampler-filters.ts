// Low-pass prototypes for the Resampler: Kaiser-windowed sincs designed once
// per rate pair on first use (a few hundred taps: well under a millisecond) and
// shared by every leg. Kaiser's formulas (Oppenheim & Schafer, 3rd ed. §7.6)
// turn a stopband attenuation and a transition width into a length and a
// window shape, so the spec below is the whole design: no tables to go stale.
//
// The spec comes from what the legs carry. A narrowband leg (G.711, 8 kHz)
// must pass 0–3.4 kHz flat: the transition runs 3.4 → 4.6 kHz, centred on
// 4 kHz, so an 8 kHz input's first image (8 kHz − f) starts at 4.6 kHz, in the
// stopband. A wideband leg (G.722, 16 kHz) passes 0–7 kHz; its transition runs
// 7 → 9 kHz. Centred on the low rate's Nyquist, the 2:1 filter is a half-band
// (every second tap zero), which halves the 8 ↔ 16 kHz work.

/** Stopband attenuation asked of every filter (Kaiser's estimate lands within ~1.5 dB of it; rounding the length up adds some). */
export const STOPBAND_DB = 70;

/** Passband edge (Hz) for a leg whose (lower) rate is `lowRate`. */
export function passbandHz(lowRate: number): number {
  if (lowRate === 8000) return 3400;
  if (lowRate === 16000) return 7000;
  return 0.425 * lowRate;
}

/** Zeroth-order modified Bessel function of the first kind, by its power series. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function kaiserBeta(attenuationDb: number): number {
  const a = attenuationDb;
  if (a > 50) return 0.1102 * (a - 8.7);
  if (a >= 21) return 0.5842 * Math.pow(a - 21, 0.4) + 0.07886 * (a - 21);
  return 0;
}

/** Kaiser's length estimate for a transition of `widthHz` at `rate`. */
function kaiserLength(attenuationDb: number, widthHz: number, rate: number): number {
  return Math.ceil((attenuationDb - 7.95) / (2.285 * 2 * Math.PI * (widthHz / rate))) + 1;
}

/** The same estimate solved for the attenuation a given length buys. */
function kaiserAttenuation(taps: number, widthHz: number, rate: number): number {
  return 7.95 + (taps - 1) * 2.285 * 2 * Math.PI * (widthHz / rate);
}

/** Windowed sinc of `taps` (odd) taps, cutoff `cutoffHz` at `rate`, unnormalised. */
function windowedSinc(taps: number, cutoffHz: number, rate: number, beta: number): Float64Array {
  const h = new Float64Array(taps);
  const mid = (taps - 1) / 2;
  const fc = cutoffHz / rate;
  const i0Beta = besselI0(beta);
  for (let i = 0; i < taps; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const r = x / mid;
    h[i] = (sinc * besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r)))) / i0Beta;
  }
  return h;
}

export interface HalfBand {
  /** Taps at odd offsets 1, 3, …, 2K−1 from the centre, for a DC gain of 1 (the centre tap is 0.5). */
  side: Float64Array;
}

export interface PolyphaseLowPass {
  /** The full symmetric prototype (odd length), DC gain 1. */
  h: Float64Array;
}

const halfBands = new Map<number, HalfBand>();
const lowPasses = new Map<string, PolyphaseLowPass>();

/**
 * The 2:1 half-band filter between `lowRate` and 2·lowRate, length 4K−1: the
 * centre tap is exactly 0.5 and the even offsets exactly 0, so it only stores
 * the K distinct side taps (they are symmetric).
 */
export function halfBand(lowRate: number): HalfBand {
  const cached = halfBands.get(lowRate);
  if (cached) return cached;
  const rate = 2 * lowRate;
  const pass = passbandHz(lowRate);
  const width = lowRate - 2 * pass;
  // K side taps per half, rounded up to a multiple of 4: the Resampler runs 4
  // taps a step, so the extra taps cost nothing: the window is reshaped for
  // the attenuation the longer filter buys.
  const K = 4 * Math.ceil((kaiserLength(STOPBAND_DB, width, rate) + 1) / 16);
  const taps = 4 * K - 1;
  const h = windowedSinc(taps, lowRate / 2, rate, kaiserBeta(kaiserAttenuation(taps, width, rate)));
  const mid = 2 * K - 1;
  const side = new Float64Array(K);
  let sum = 0;
  for (let j = 0; j < K; j++) {
    side[j] = h[mid + 2 * j + 1];
    sum += 2 * side[j];
  }
  // The side taps alone must sum to 0.5 (the other half is the centre tap),
  // so a constant comes out constant on both output phases.
  for (let j = 0; j < K; j++) side[j] *= 0.5 / sum;
  const hb = { side };
  halfBands.set(lowRate, hb);
  return hb;
}

/** The low-pass for an integer ratio `factor` between `lowRate` and lowRate·factor; DC gain 1. */
export function polyphaseLowPass(lowRate: number, factor: number): PolyphaseLowPass {
  const key = `${lowRate}x${factor}`;
  const cached = lowPasses.get(key);
  if (cached) return cached;
  const rate = lowRate * factor;
  const pass = passbandHz(lowRate);
  const width = lowRate - 2 * pass;
  // The Resampler pads each of its `factor` phases to a multiple of 4 taps;
  // the prototype grows to fill them (factor·T − 1: odd, so symmetric about a
  // tap) and its window is reshaped for the attenuation that length buys.
  const T = 4 * Math.ceil(kaiserLength(STOPBAND_DB, width, rate) / factor / 4);
  const taps = factor * T - 1;
  const h = windowedSinc(taps, lowRate / 2, rate, kaiserBeta(kaiserAttenuation(taps, width, rate)));
  let sum = 0;
  for (let i = 0; i < taps; i++) sum += h[i];
  for (let i = 0; i < taps; i++) h[i] /= sum;
  const lp = { h };
  lowPasses.set(key, lp);
  return lp;
}

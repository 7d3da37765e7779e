// Audio checks for tests: audio is judged as audio (tone amplitude by Goertzel,
// speech by 20 ms loudness envelopes), plus a tolerant WAV reader and sox probes.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { GoertzelDetector } from '../../src/dtmf/goertzel-detector.ts';

export interface WavData {
  sampleRate: number;
  channels: number;
  /** Interleaved. */
  samples: Int16Array;
  /** The data size the header claims (may differ from what is there after a crash). */
  headerDataBytes: number;
}

/** Reads a 16-bit PCM WAV by walking its chunks; tolerates a header that lags the data. */
export function readWavFile(path: string): WavData {
  const buf = readFileSync(path);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path}: not RIFF/WAVE`);
  let off = 12;
  let sampleRate = 0;
  let channels = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(off + 10);
      sampleRate = buf.readUInt32LE(off + 12);
      if (buf.readUInt16LE(off + 22) !== 16) throw new Error(`${path}: not 16-bit`);
    } else if (id === 'data') {
      const end = Math.min(buf.length, off + 8 + size);
      const bytes = buf.subarray(off + 8, end - ((end - off - 8) % 2));
      const samples = new Int16Array(bytes.length / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
      return { sampleRate, channels, samples, headerDataBytes: size };
    }
    off += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

export function channel(samples: Int16Array, channels: number, c: number): Int16Array {
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = samples[i * channels + c];
  return out;
}

/** Amplitude (0..1 of full scale) of the `hz` component of x[start, start+len), by Goertzel. */
export function toneAmplitude(x: ArrayLike<number>, rate: number, hz: number, start = 0, len = x.length - start): number {
  const w = (2 * Math.PI * hz) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < len; i++) {
    const s0 = x[start + i] / 32768 + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / len;
}

export function rms(x: ArrayLike<number>, start = 0, len = x.length - start): number {
  let sum = 0;
  for (let i = 0; i < len; i++) sum += (x[start + i] / 32768) ** 2;
  return len > 0 ? Math.sqrt(sum / len) : 0;
}

/** Share of the window's energy at `hz` (1 for a pure tone, ~0 when absent). */
export function purity(x: ArrayLike<number>, rate: number, hz: number, start = 0, len = x.length - start): number {
  const r = rms(x, start, len);
  if (r === 0) return 0;
  const a = toneAmplitude(x, rate, hz, start, len);
  return (a * a) / 2 / (r * r);
}

/**
 * purity over consecutive windows (100 ms by default), the median of them: a
 * jitter-buffer glitch shifts a tone's phase, which would cancel a single long
 * Goertzel, but leaves most short windows intact.
 */
export function medianToneShare(pcm: Int16Array, hz: number, rate: number, windowMs = 100): number {
  const n = Math.round((rate * windowMs) / 1000);
  const shares: number[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) shares.push(purity(pcm, rate, hz, i, n));
  shares.sort((a, b) => a - b);
  return shares.length ? shares[Math.floor(shares.length / 2)] : 0;
}

/** A sine of `freq` Hz and `amplitude` (0..32767), `samples` long at `rate`; phase continues from `startSample`. */
export function tone(freq: number, rate: number, samples: number, amplitude = 8000, startSample = 0): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * (startSample + i)) / rate));
  return out;
}

const DTMF_FREQS: Record<string, [number, number]> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477], C: [852, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
};

/** A DTMF digit's two tones, each of `amplitude`. */
export function dtmfTone(digit: string, rate: number, samples: number, amplitude = 6000, startSample = 0): Int16Array {
  const [lo, hi] = DTMF_FREQS[digit];
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = (startSample + i) / rate;
    out[i] = Math.round(amplitude * (Math.sin(2 * Math.PI * lo * t) + Math.sin(2 * Math.PI * hi * t)));
  }
  return out;
}

/**
 * `x` with a narrow band around `hz` removed (an RBJ biquad notch, Q 4): takes a
 * steady test tone out of a signal so that what else is in it (a prompt) can be
 * judged by its envelope.
 */
export function notch(x: ArrayLike<number>, rate: number, hz: number, q = 4): Int16Array {
  const w = (2 * Math.PI * hz) / rate;
  const alpha = Math.sin(w) / (2 * q);
  const a0 = 1 + alpha;
  const b0 = 1 / a0;
  const b1 = (-2 * Math.cos(w)) / a0;
  const a2 = (1 - alpha) / a0;
  const out = new Int16Array(x.length);
  let x1 = 0;
  let x2 = 0;
  let y1 = 0;
  let y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const y = b0 * x[i] + b1 * x1 + b0 * x2 - b1 * y1 - a2 * y2;
    x2 = x1;
    x1 = x[i];
    y2 = y1;
    y1 = y;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(y)));
  }
  return out;
}

/** RMS loudness per `ms` window. */
export function envelope(x: ArrayLike<number>, rate: number, ms = 20): number[] {
  const n = Math.round((rate * ms) / 1000);
  const out: number[] = [];
  for (let s = 0; s + n <= x.length; s += n) out.push(rms(x, s, n));
  return out;
}

/** Pearson correlation of two envelopes at the best lag within ±maxLag windows. */
export function bestCorrelation(a: number[], b: number[], maxLag = 25): { r: number; lag: number } {
  let best = { r: -1, lag: 0 };
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < a.length; i++) {
      const j = i + lag;
      if (j >= 0 && j < b.length) {
        xs.push(a[i]);
        ys.push(b[j]);
      }
    }
    if (xs.length < 10) continue;
    const r = pearson(xs, ys);
    if (r > best.r) best = { r, lag };
  }
  return best;
}

function pearson(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

const LOW = [697, 770, 852, 941];
const HIGH = [1209, 1336, 1477, 1633];
const KEYS = ['123A', '456B', '789C', '*0#D'];

/** The DTMF digit in a window, or null when no row and column tone clearly dominates. */
export function detectDtmf(x: ArrayLike<number>, rate: number, start = 0, len = x.length - start): string | null {
  const lows = LOW.map((f) => toneAmplitude(x, rate, f, start, len));
  const highs = HIGH.map((f) => toneAmplitude(x, rate, f, start, len));
  const r = argmax(lows);
  const c = argmax(highs);
  const second = (a: number[], i: number): number => Math.max(...a.filter((_, k) => k !== i));
  if (lows[r] < 0.05 || highs[c] < 0.05) return null;
  if (lows[r] < 4 * second(lows, r) || highs[c] < 4 * second(highs, c)) return null;
  return KEYS[r][c];
}

function argmax(a: number[]): number {
  return a.reduce((best, v, i) => (v > a[best] ? i : best), 0);
}

/** `sox --i` facts: rate, channels, duration in seconds. Throws when sox cannot read the file. */
export function soxInfo(path: string): { rate: number; channels: number; seconds: number } {
  const q = (flag: string): string => execFileSync('sox', ['--i', flag, path], { encoding: 'utf8' }).trim();
  return { rate: Number(q('-r')), channels: Number(q('-c')), seconds: Number(q('-D')) };
}

/** `sox f -n stat`: length in seconds and RMS amplitude. Throws when sox cannot read the file. */
export function soxStat(path: string): { seconds: number; rmsAmplitude: number } {
  // sox prints its statistics on stderr.
  const r = spawnSync('sox', [path, '-n', 'stat'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sox stat failed on ${path}: ${r.stderr}`);
  const num = (label: string): number => {
    const m = new RegExp(`^${label}:\\s+(-?[\\d.]+)`, 'm').exec(r.stderr);
    if (!m) throw new Error(`sox stat: no '${label}' in:\n${r.stderr}`);
    return Number(m[1]);
  };
  return { seconds: num('Length \\(seconds\\)'), rmsAmplitude: num('RMS\\s+amplitude') };
}

/** The DTMF digits Parley's own in-band detector (Goertzel, 20 ms frames) finds in `pcm`, in order. */
export function dtmfDigitsIn(pcm: Int16Array, rate: number): string[] {
  const found: string[] = [];
  const det = new GoertzelDetector(rate, (e) => found.push(e.digit));
  const n = rate / 50;
  for (let at = 0; at + n <= pcm.length; at += n) det.process(pcm.subarray(at, at + n));
  det.process(null);
  det.process(null);
  return found;
}

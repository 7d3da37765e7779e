// Test audio helpers: tones, DTMF tones, Goertzel analysis. Reusable by any test.

/** A sine of `freq` Hz, `amplitude` (0..32767), `ms` long, at `rate`; phase continues from `startSample`. */
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

/** A DTMF digit's two tones. */
export function dtmfTone(digit: string, rate: number, samples: number, amplitude = 6000, startSample = 0): Int16Array {
  const [lo, hi] = DTMF_FREQS[digit];
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = (startSample + i) / rate;
    out[i] = Math.round(amplitude * (Math.sin(2 * Math.PI * lo * t) + Math.sin(2 * Math.PI * hi * t)));
  }
  return out;
}

/** Goertzel power at freq, normalised so that a pure sine at freq gives 1 (fraction of the signal's energy). */
export function toneShare(pcm: ArrayLike<number>, freq: number, rate: number): number {
  const n = pcm.length;
  const c = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const s0 = pcm[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += pcm[i] * pcm[i];
  }
  if (energy === 0) return 0;
  return (2 * (s1 * s1 + s2 * s2 - c * s1 * s2)) / (n * energy);
}

export function rms(pcm: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < pcm.length; i++) e += pcm[i] * pcm[i];
  return Math.sqrt(e / Math.max(1, pcm.length));
}

/** Amplitude of the component at freq (for a sine of amplitude A it returns ≈ A). */
export function toneAmplitude(pcm: ArrayLike<number>, freq: number, rate: number): number {
  const n = pcm.length;
  const c = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = pcm[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - c * s1 * s2))) / n;
}

/**
 * toneShare over consecutive windows (100 ms by default), median of them: a
 * jitter-buffer glitch shifts a tone's phase, which would cancel a single
 * long Goertzel, but leaves most short windows intact.
 */
export function medianToneShare(pcm: Int16Array, freq: number, rate: number, windowMs = 100): number {
  const n = Math.round((rate * windowMs) / 1000);
  const shares: number[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) shares.push(toneShare(pcm.subarray(i, i + n), freq, rate));
  shares.sort((a, b) => a - b);
  return shares.length ? shares[Math.floor(shares.length / 2)] : 0;
}

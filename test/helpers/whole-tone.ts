// Judging a recorded tone as whole: the middle two seconds of a recording (start-up and
// hang-up aside) are a clean tone, and no more than two 20 ms blocks of it fall below a
// level (a lost or dropped packet shows as such a block).
import assert from 'node:assert/strict';
import { medianToneShare, rms } from './audio-analysis.ts';

/** `floor`: the level a 20 ms block must reach (default 0.6 of the middle's own level). */
export function assertToneWhole(pcm: Int16Array, rate: number, hz: number, what: string, floor?: number): void {
  const from = Math.floor(pcm.length / 2 - rate);
  const middle = pcm.subarray(from, from + 2 * rate);
  assert.equal(middle.length, 2 * rate, `${what} is long enough (${(pcm.length / rate).toFixed(2)} s)`);
  const share = medianToneShare(middle, hz, rate);
  assert.ok(share > 0.9, `${what} is a clean ${hz} Hz tone (median share ${share.toFixed(2)})`);
  const block = rate / 50;
  const min = floor ?? 0.6 * rms(middle);
  const weak: number[] = [];
  for (let b = 0; b + block <= middle.length; b += block) if (rms(middle, b, block) < min) weak.push(b / block);
  assert.ok(weak.length <= 2, `20 ms blocks of ${what} below the tone's level (gaps): ${weak.length} of ${middle.length / block} (${weak.slice(0, 12).join(', ')})`);
}

export interface ToneMeasure {
  /** The tone's frequency from its zero crossings (Hz). */
  hz: number;
  /** Its RMS level against a sine of `amplitude` (dB). */
  levelDb: number;
  /** 20 ms blocks below 0.7 of that level (gaps, underruns). */
  weak: number[];
  /** Phase jumps (cycles) where the other blocks, put end to end, are not one steady tone: audio repeated or skipped. */
  jumps: string[];
  /**
   * Weak blocks and jumps as events: those within 15 blocks (300 ms) of each other are one.
   * A frame the jitter buffer shed or waited for on a loaded machine is one event: after a
   * frame it did not get, the Opus decoder drifts from the encoder for a while (SILK: level
   * and phase wander for some 200 ms), so one such frame shows as a jump and weak blocks.
   */
  events: number;
}

/**
 * Measures the middle two seconds of `pcm` as a tone of `hz` sent at `amplitude`. Pick `hz`
 * so that 2.5, 10 and 20 ms are not whole cycles of it (1030 Hz): then a repeated or a
 * skipped piece of audio shifts the phase of what follows, and `jumps` shows it.
 */
export function measureTone(pcm: Int16Array, rate: number, hz: number, amplitude: number): ToneMeasure {
  const from = Math.floor(pcm.length / 2 - rate);
  const middle = pcm.subarray(from, from + 2 * rate);
  assert.equal(middle.length, 2 * rate, `long enough (${(pcm.length / rate).toFixed(2)} s)`);
  // Rising zero crossings, placed between samples, counted within the blocks that hold the
  // tone (a gap has none, and would read as a lower frequency).
  const expected = amplitude / 32768 / Math.SQRT2;
  const block = rate / 50;
  let cycles = 0;
  let span = 0;
  for (let b = 0; b + block <= middle.length; b += block) {
    if (rms(middle, b, block) < 0.7 * expected) continue;
    let first = -1;
    let last = -1;
    let crossings = 0;
    for (let i = b + 1; i < b + block; i++) {
      if (middle[i - 1] < 0 && middle[i] >= 0) {
        const t = i - 1 + -middle[i - 1] / (middle[i] - middle[i - 1]);
        if (first < 0) first = t;
        last = t;
        crossings++;
      }
    }
    if (crossings > 1) {
      cycles += crossings - 1;
      span += last - first;
    }
  }
  const measuredHz = span > 0 ? (cycles * rate) / span : 0;
  const levelDb = 20 * Math.log10(rms(middle) / expected);
  const weak: number[] = [];
  const whole: number[] = [];
  for (let b = 0; b + block <= middle.length; b += block) {
    if (rms(middle, b, block) < 0.7 * expected) weak.push(b / block);
    else whole.push(b);
  }
  const jumps: string[] = [];
  const anomalies = weak.slice();
  let prev: number | null = null;
  whole.forEach((b, k) => {
    let re = 0;
    let im = 0;
    for (let i = 0; i < block; i++) {
      // Phase against a steady tone on the joined blocks' own time (block k starts at k·block).
      const w = (2 * Math.PI * hz * (k * block + i)) / rate;
      re += middle[b + i] * Math.cos(w);
      im += middle[b + i] * Math.sin(w);
    }
    const phase = Math.atan2(im, re) / (2 * Math.PI);
    if (prev !== null) {
      let d = phase - prev;
      d -= Math.round(d);
      if (Math.abs(d) > 0.08) {
        jumps.push(`block ${b / block}: ${d.toFixed(2)}`);
        anomalies.push(b / block);
      }
    }
    prev = phase;
  });
  anomalies.sort((x, y) => x - y);
  let events = 0;
  for (let i = 0; i < anomalies.length; i++) if (i === 0 || anomalies[i] - anomalies[i - 1] > 15) events++;
  return { hz: measuredHz, levelDb, weak, jumps, events };
}

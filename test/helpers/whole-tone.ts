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

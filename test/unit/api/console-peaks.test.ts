// The recording player's data (web/console/src/peaks.ts): peaks per column of
// the decoded audio, and the sidecar's notice, pauses and masks as marks on the
// file's timeline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { marksOf, peaks } from '../../../web/console/src/peaks.ts';

describe('console recording player data', () => {
  it('peaks: min and max of each column, silence flat, a burst where it is', () => {
    const x = new Float32Array(1000);
    for (let i = 500; i < 600; i++) x[i] = i % 2 ? 0.5 : -0.25;
    const p = peaks(x, 10);
    assert.deepEqual([...p.max], [0, 0, 0, 0, 0, 0.5, 0, 0, 0, 0]);
    assert.deepEqual([...p.min], [0, 0, 0, 0, 0, -0.25, 0, 0, 0, 0]);
    // More columns than samples: every column still reads its sample.
    assert.deepEqual([...peaks(new Float32Array([0.1, -0.2]), 4).max].map((v) => Math.round(v * 10) / 10), [0.1, 0.1, 0, 0]);
  });

  it('marks: the notice as a point, pauses and masks as spans, an open one up to the end, a skipped pause as a line', () => {
    const at = (fileMs: number): { fileMs: number; roomMs: number; at: string } => ({ fileMs, roomMs: fileMs, at: '' });
    const m = marksOf({
      durationMs: 10_000,
      notices: [{ ...at(0), prompt: 'record-notice', leg: 'caller' }],
      pauses: [{ reason: 'card', start: at(2000), end: at(2000) }],
      masks: [{ reason: null, start: at(5000), end: at(6500) }, { reason: null, start: at(9000), end: null }],
    });
    assert.deepEqual(
      m.map((x) => [x.kind, x.fromMs, x.toMs, x.label]),
      [
        ['notice', 0, 0, 'notice record-notice (to caller)'],
        ['pause', 2000, 2000, 'paused: card'],
        ['mask', 5000, 6500, 'masked'],
        ['mask', 9000, 10_000, 'masked'],
      ],
    );
    assert.deepEqual(marksOf({ durationMs: 1 }), [], 'an older sidecar without the lists');
  });
});

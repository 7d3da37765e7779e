import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IntervalEntry, TimePoint } from '../../../src/recording/metadata.ts';
import { PauseMask } from '../../../src/recording/pause-mask.ts';
import { SpanList } from '../../../src/recording/span-list.ts';

const t = (ms: number): TimePoint => ({ roomMs: ms, fileMs: ms, at: new Date(ms).toISOString() });

describe('SpanList', () => {
  it('opens one span at a time, ends it, and reports each change once', () => {
    const entries: IntervalEntry[] = [];
    let changes = 0;
    const spans = new SpanList(entries, () => changes++);
    spans.begin('a', t(100));
    spans.begin('ignored: already open', t(150));
    assert.equal(spans.isOpen, true);
    spans.end(t(200));
    spans.end(t(250)); // not open: no change
    assert.equal(spans.isOpen, false);
    spans.begin(null, t(300));
    assert.deepEqual(entries, [
      { reason: 'a', start: t(100), end: t(200) },
      { reason: null, start: t(300), end: null },
    ]);
    assert.equal(changes, 3);
  });

  it('closeAt ends an open span without a change event, and is a no-op when none is open', () => {
    const entries: IntervalEntry[] = [];
    let changes = 0;
    const spans = new SpanList(entries, () => changes++);
    spans.closeAt(t(50));
    assert.deepEqual(entries, []);
    spans.begin('x', t(100));
    spans.closeAt(t(400));
    assert.equal(spans.isOpen, false);
    assert.deepEqual(entries, [{ reason: 'x', start: t(100), end: t(400) }]);
    assert.equal(changes, 1);
  });
});

describe('PauseMask', () => {
  it('keeps pauses and masks in their own lists, independently', () => {
    const pauses: IntervalEntry[] = [];
    const masks: IntervalEntry[] = [];
    const states: [boolean, boolean][] = [];
    const pm: PauseMask = new PauseMask(pauses, masks, () => states.push([pm.isPaused, pm.isMasked]));
    pm.pause('p', t(0));
    pm.mask('m', t(10));
    pm.resume(t(20));
    pm.closeAt(t(30));
    assert.deepEqual(states, [[true, false], [true, true], [false, true]]);
    assert.deepEqual(pauses, [{ reason: 'p', start: t(0), end: t(20) }]);
    assert.deepEqual(masks, [{ reason: 'm', start: t(10), end: t(30) }]);
    assert.equal(pm.isPaused || pm.isMasked, false);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArrivalGrid } from '../../../bench/lib/arrival-grid.ts';

// Packets every 20 ms carrying 8 kHz timestamps (160 per frame), starting near the wrap.
function feed(grid: ArrivalGrid, frames: number, arrival: (i: number) => number | null, ts0 = 0xffffff00): void {
  for (let i = 0; i < frames; i++) {
    const at = arrival(i);
    if (at !== null) grid.record(at, (ts0 + i * 160) >>> 0);
  }
}

describe('bench arrival grid (late and missing frames at the receiver)', () => {
  it('counts nothing late or missing on a clean 20 ms stream, across a timestamp wrap', () => {
    const g = new ArrivalGrid(1000);
    feed(g, 500, (i) => 1000 + i * 20 + (i % 3));
    const s = g.summary();
    assert.deepEqual([s.received, s.expected, s.missing, s.late], [500, 500, 0, 0]);
    assert.equal(s.offsetMaxMs, 2);
  });

  it('counts frames more than 20 ms behind the grid as late, and a server stall caught up in a burst as late frames', () => {
    const g = new ArrivalGrid(1000);
    // Frames 100..104 held back and sent together at frame 105's time.
    feed(g, 500, (i) => (i >= 100 && i < 105 ? 1000 + 105 * 20 : 1000 + i * 20));
    const s = g.summary();
    assert.equal(s.missing, 0);
    assert.equal(s.late, 4); // frames 100..103 waited 100..40 ms; 104's 20 ms is not more than 20
    assert.equal(s.offsetMaxMs, 100);
  });

  it('counts frames never sent as missing, not late', () => {
    const g = new ArrivalGrid(1000);
    feed(g, 500, (i) => (i % 50 === 7 ? null : 1000 + i * 20));
    const s = g.summary();
    assert.equal(s.expected, 500);
    assert.equal(s.missing, 10);
    assert.equal(s.late, 0);
  });

  it('takes a timestamp jump or a new SSRC as a resync, not as frames late or early', () => {
    const g = new ArrivalGrid(1000);
    for (let i = 0; i < 200; i++) {
      const ts = i < 100 ? i * 160 : 0x80000000 + i * 160; // the stream restarts half-way round the clock
      g.record(1000 + i * 20, ts >>> 0, i < 150 ? 1 : 2);
    }
    const s = g.summary();
    assert.deepEqual([s.late, s.missing, s.resyncs, s.offsetMaxMs], [0, 0, 2, 0]);
  });
});

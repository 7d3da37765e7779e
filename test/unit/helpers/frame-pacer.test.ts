// The test senders' fixed clock (test/helpers/frame-pacer.ts): frame n is due
// n·20 ms after start; a stalled event loop gets every frame that fell due at
// once (none lost, so a test peer's stream has no gap); a stall over the
// backlog bound drops the backlog and says how many frames it skipped. The
// stalls are made here by blocking the event loop, so a loaded machine only
// makes them longer: every check holds for any stall length.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FramePacer } from '../../helpers/frame-pacer.ts';
import { waitFor } from '../../helpers/wait.ts';

/** Blocks the event loop for `ms` (a scheduler stall as the test sees it). */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: the loop lags as it does under load
  }
}

describe('FramePacer', () => {
  it('sends every frame that fell due while the event loop was blocked, in one burst', async () => {
    const calls: { skipped: number; at: number }[] = [];
    const pacer = new FramePacer((skipped) => calls.push({ skipped, at: performance.now() }));
    const t0 = performance.now();
    pacer.start();
    try {
      await waitFor('2 frames', () => calls.length >= 2, 10_000);
      block(130);
      const after = calls.length;
      await waitFor('the next timer run', () => calls.length > after, 10_000);
      // The run after the stall caught up: frames sent = frames due (by the fixed clock) at that moment.
      const last = calls[calls.length - 1];
      const dueThen = Math.floor((last.at - t0) / 20);
      assert.ok(calls.length >= dueThen - 1 && calls.length <= dueThen + 1, `${calls.length} frames sent, ${dueThen} due`);
      assert.ok(pacer.stats.bursts >= 1 && pacer.stats.maxBurst >= 130 / 20 - 1, `a burst after the stall: ${JSON.stringify(pacer.stats)}`);
      assert.ok(calls.every((c) => c.skipped === 0), 'nothing skipped under the bound');
      assert.equal(pacer.stats.dropped, 0);
    } finally {
      pacer.stop();
    }
  });

  it('drops the backlog of a stall over the bound and resumes with the newest frame', async () => {
    const calls: number[] = [];
    /** At the frame after the drop: frames sent + dropped, and frames due by the clock. */
    let atDrop: { counted: number; due: number } | null = null;
    const pacer = new FramePacer((skipped) => {
      calls.push(skipped);
      if (skipped > 0) atDrop = { counted: pacer.stats.frames + pacer.stats.dropped, due: Math.floor((performance.now() - t0) / 20) };
    }, 20, 10);
    const t0 = performance.now();
    pacer.start();
    try {
      await waitFor('1 frame', () => calls.length >= 1, 10_000);
      block(400); // 20 frames due, the bound is 10
      const before = calls.length;
      await waitFor('the next timer run', () => calls.length > before, 10_000);
      const skipped = calls[before];
      assert.ok(skipped >= 10, `the run after the stall skipped ${skipped} frames`);
      assert.equal(pacer.stats.dropped, skipped);
      // The newest frame only: with it, sent + dropped is the clock's count of frames due (no burst of the backlog).
      assert.ok(atDrop, 'a frame was told what was skipped');
      const { counted, due } = atDrop as { counted: number; due: number };
      assert.ok(counted === due || counted === due - 1, `${counted} sent + dropped, ${due} due`);
      assert.ok(calls.slice(before + 1).every((s) => s === 0), 'one drop for one stall');
    } finally {
      pacer.stop();
    }
  });

  it('stop() from inside a frame ends the burst; start() begins a new clock', async () => {
    let calls = 0;
    const pacer = new FramePacer(() => {
      calls++;
      if (calls === 2) pacer.stop();
    });
    pacer.start();
    await waitFor('1 frame', () => calls >= 1, 10_000);
    block(100);
    await waitFor('the stop', () => !pacer.running, 10_000);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(calls, 2, 'no frame after stop()');
    pacer.start();
    await waitFor('a frame of the new clock', () => calls >= 3, 10_000);
    pacer.stop();
  });
});

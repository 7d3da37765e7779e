// LoopStallMonitor: a stalled main loop is logged with the histogram's figures; a quiet one is not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoopStallMonitor } from '../../../src/util/loop-stall-monitor.ts';
import { captureLog } from '../../helpers/log-capture.ts';

const turn = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LoopStallMonitor', () => {
  it('logs a window in which the loop stalled, with its longest delay, and only that one', async () => {
    const cap = captureLog();
    // everyMs long: the test reads the windows itself with check().
    const m = new LoopStallMonitor({ thresholdMs: 150, everyMs: 60_000, log: cap.log });
    try {
      await turn(50);
      m.check(); // a window without a stall
      await turn(30); // the histogram's first tick after a reset only sets its reference time
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // the loop is blocked, as by a long synchronous section
      }
      await turn(50); // the histogram's timer fires late and records the delay
      m.check();
      await turn(50);
      m.check(); // quiet again
      assert.equal(m.stalls, 1);
      assert.ok(m.worstMs >= 250, `worst ${m.worstMs} ms`);
      // pino hands the line to the stream asynchronously
      for (let i = 0; i < 50 && cap.find(/main event loop stalled/).length === 0; i++) await turn(10);
      const lines = cap.find(/main event loop stalled/);
      assert.equal(lines.length, 1);
      assert.ok((lines[0].maxMs as number) >= 250, `maxMs ${String(lines[0].maxMs)}`);
    } finally {
      m.close();
      m.close();
    }
  });
});

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { FrameTicker } from '../../../src/mixer/frame-ticker.ts';
import { MixClock } from '../../../src/mixer/mix-clock.ts';

/** Resolves once `cond` holds (polled every 5 ms), or fails after `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('frame ticker (one timer per thread for every room clock)', () => {
  it('ticks clocks started at different times from the same fires, each from its own time 0', async () => {
    const ticker = new FrameTicker();
    const seenA: { t: number; at: number }[] = [];
    const seenB: { t: number; at: number }[] = [];
    const a = new MixClock((t) => seenA.push({ t, at: performance.now() }), ticker);
    const b = new MixClock((t) => seenB.push({ t, at: performance.now() }), ticker);
    a.start();
    await new Promise((r) => setTimeout(r, 33)); // b starts off a's phase
    b.start();
    assert.equal(ticker.size, 2);
    await until(() => seenB.length >= 10);
    a.stop();
    b.stop();
    assert.equal(ticker.size, 0);
    // Each clock's reference times count from its own start, 20 ms apart, none skipped.
    seenA.forEach((s, i) => assert.equal(s.t, i * 20));
    seenB.forEach((s, i) => assert.equal(s.t, i * 20));
    // b's ticks ran in the same fires as a's: every one of b's ticks has an a tick
    // run just before it (same fire), not ~13 ms away as separate timers would.
    let sameFire = 0;
    for (const s of seenB) if (seenA.some((x) => s.at - x.at >= 0 && s.at - x.at < 3)) sameFire++;
    assert.ok(sameFire >= seenB.length - 2, `${sameFire} of ${seenB.length} of b's ticks shared a fire with a's`);
    const ticks = a.stats.ticks;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(a.stats.ticks, ticks, 'a stopped clock does not tick');
  });

  it('a clock that stops another in its tick: that one ticks no more, the others go on', async () => {
    const ticker = new FrameTicker();
    let bTicks = 0;
    const b = new MixClock(() => bTicks++, ticker);
    const a = new MixClock(() => b.stop(), ticker);
    let cTicks = 0;
    const c = new MixClock(() => cTicks++, ticker);
    a.start();
    b.start();
    c.start();
    await until(() => cTicks >= 3);
    assert.equal(bTicks, 0, 'a stopped b (ticked before it) before b ever ticked');
    a.stop();
    c.stop();
    assert.equal(ticker.size, 0);
  });
});

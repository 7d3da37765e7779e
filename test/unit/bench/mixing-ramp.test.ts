// bench/lib/mixing-ramp.ts: a server's ramp keeps the most legs it held clean, stops at
// the first window at or over the late + missing threshold, and flags a failing window
// whose load generator was near its own limit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addRampWindow, emptyRamp, rampWindow } from '../../../bench/lib/mixing-ramp.ts';
import type { MixingWindow } from '../../../bench/lib/measure.ts';

function win(legs: number, late: number, missing: number, generator = 30, loopDelayP99 = 2): MixingWindow {
  return {
    figures: { legs, cpuMicrosPerLegPerFrame: 20, legsPerCore: 1000, latePercent: late, missingPercent: missing, latencyP50Ms: 10, latencyP99Ms: 20 },
    extra: { seconds: 5, serverCpuPercentOfCore: legs / 10, otherServerCpuPercentOfCore: 0, generatorCpuPercentOfCore: generator, generatorProcesses: 1, generatorSendLagP99Ms: 1, generatorLoopDelayP99Ms: loopDelayP99, generatorLoopDelayMaxMs: loopDelayP99 + 5, clicks: 5, clicksLost: 0, offsetP99Ms: 1, offsetMaxMs: 2, resyncs: 0 },
  };
}

describe('mixing ramp', () => {
  it('goes on while clean and stops at the first window at or over 0.5 % late + missing', () => {
    const r = emptyRamp();
    assert.equal(addRampWindow(r, rampWindow(win(100, 0, 0))), true);
    assert.equal(addRampWindow(r, rampWindow(win(300, 0.2, 0.29))), true);
    assert.equal(addRampWindow(r, rampWindow(win(600, 0.3, 0.2))), false);
    assert.equal(r.maxCleanLegs, 300);
    assert.equal(r.serverCpuPercentOfCoreAtMax, 30);
    assert.equal(r.firstFailingLegs, 600);
    assert.equal(r.generatorBound, false);
    assert.deepEqual(r.windows.map((w) => w.clean), [true, true, false]);
  });

  it('flags a saturation where the generator used most of a core', () => {
    const r = emptyRamp();
    assert.equal(addRampWindow(r, rampWindow(win(90, 2, 0, 95))), false);
    assert.equal(r.maxCleanLegs, 0);
    assert.equal(r.serverCpuPercentOfCoreAtMax, null);
    assert.equal(r.generatorBound, true);
  });

  it("flags a saturation where the generator's own event loop was a frame late (it stamps arrivals late itself)", () => {
    const r = emptyRamp();
    assert.equal(addRampWindow(r, rampWindow(win(960, 24, 0, 35, 25))), false);
    assert.equal(r.generatorBound, true);
    const ok = emptyRamp();
    addRampWindow(ok, rampWindow(win(960, 24, 0, 35, 3)));
    assert.equal(ok.generatorBound, false, 'a generator on time: the lateness is the server');
  });
});

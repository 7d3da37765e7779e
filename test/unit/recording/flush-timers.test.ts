// FlushTimers with node:test's fake timers and a fake clock: every recording is
// flushed once per interval, its first flush within one interval, on at most 5
// timers per interval whatever the number of recordings, spread evenly; a recording
// that leaves is flushed no more, and a phase without recordings has no timer.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { FlushTimers } from '../../../src/recording/flush-timers.ts';

describe('FlushTimers', () => {
  let t = 0;
  let timers: FlushTimers;
  /** Advances the fake clock and the fake timers together, 1 ms at a time. */
  const advance = (ms: number): void => {
    for (let i = 0; i < ms; i++) {
      t++;
      mock.timers.tick(1);
    }
  };

  beforeEach(() => {
    t = 1000;
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    timers = new FlushTimers(() => t);
  });
  afterEach(() => mock.timers.reset());

  it('200 recordings: each flushed once per interval on 5 timers, spread over the interval', () => {
    const counts = new Array<number>(200).fill(0);
    const at: number[][] = counts.map(() => []);
    const leave = counts.map((_, i) =>
      timers.add(250, () => {
        counts[i]!++;
        at[i]!.push(t);
      }),
    );
    assert.equal(timers.running, 5);
    advance(250);
    assert.equal(counts.filter((c) => c !== 1).length, 0, 'each one flushed within its first interval');
    advance(750);
    assert.equal(counts.filter((c) => c !== 4).length, 0, `each one flushed every 250 ms (${[...new Set(counts)]})`);
    for (const times of at) {
      for (let k = 1; k < times.length; k++) assert.equal(times[k]! - times[k - 1]!, 250);
    }
    // 40 recordings per phase, the phases 50 ms apart.
    const phases = new Map<number, number>();
    for (const times of at) phases.set(times[0]! % 250, (phases.get(times[0]! % 250) ?? 0) + 1);
    assert.deepEqual([...phases.values()], [40, 40, 40, 40, 40]);
    const starts = [...phases.keys()].sort((x, y) => x - y);
    // 50 ms apart (a timeout of 0 fires after 1 ms: the first phase may be 1 ms late).
    for (let k = 1; k < starts.length; k++) assert.ok(Math.abs(starts[k]! - starts[k - 1]! - 50) <= 1, `phases at ${starts}`);
    for (const l of leave) l();
    assert.equal(timers.running, 0, 'no recording: no timer');
    advance(1000);
    assert.equal(counts.filter((c) => c !== 4).length, 0, 'none flushed after leaving');
  });

  it('a recording that leaves is flushed no more; leaving twice is harmless; the others go on', () => {
    let a = 0;
    let b = 0;
    const leaveA = timers.add(100, () => a++);
    timers.add(100, () => b++);
    advance(100);
    assert.deepEqual([a, b], [1, 1]);
    leaveA();
    leaveA();
    advance(300);
    assert.deepEqual([a, b], [1, 4]);
    assert.equal(timers.running, 1);
  });

  it('a recording that joins late is flushed within one interval, then every interval; intervals have their own timers', () => {
    const first: number[] = [];
    timers.add(250, () => undefined);
    advance(130);
    const joined = t;
    timers.add(250, () => first.push(t));
    timers.add(1000, () => first.push(-t));
    assert.equal(timers.running, 3);
    advance(1000);
    const own = first.filter((x) => x > 0);
    assert.ok(own[0]! - joined <= 250 && own[0]! > joined);
    assert.deepEqual(own.slice(1).map((x, i) => x - own[i]!), [250, 250, 250]);
    assert.equal(first.filter((x) => x < 0).length, 1);
  });
});

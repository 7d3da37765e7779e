// SourceBudget on a fake clock: what a message costs, when a source is over budget and for
// how long, and that sources are counted apart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chargeOf, SourceBudget } from '../../../src/sip/transport/source-budget.ts';

function budget(cfg: Partial<ConstructorParameters<typeof SourceBudget>[0]> = {}): { b: SourceBudget; clock: { t: number } } {
  const clock = { t: 0 };
  const b = new SourceBudget({ bytesPerSecond: 10_000, burstBytes: 10_000, cpuMsPerSecond: 0, maxPausedMs: 30_000, ...cfg }, () => clock.t);
  return { b, clock };
}

describe('SourceBudget', () => {
  it('charges a message its size, at least 1 KB and at least 64 bytes a line', () => {
    assert.equal(chargeOf(Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n')), 1024);
    assert.equal(chargeOf(Buffer.alloc(5000, 0x61)), 5000);
    assert.equal(chargeOf(Buffer.from('X: a\r\n'.repeat(1000))), 64_000);
  });

  it('is over budget once the bucket is below zero, for as long as it takes to refill', () => {
    const { b, clock } = budget();
    assert.equal(b.waitMs('10.0.0.1'), 0);
    b.charge('10.0.0.1', 9000, 0);
    assert.equal(b.waitMs('10.0.0.1'), 0, '1,000 bytes left');
    b.charge('10.0.0.1', 3000, 0);
    assert.equal(b.waitMs('10.0.0.1'), 200, '2,000 bytes short at 10,000 a second');
    assert.equal(b.waitMs('10.0.0.2'), 0, 'another source has its own bucket');
    clock.t = 199;
    assert.ok(b.waitMs('10.0.0.1') > 0);
    clock.t = 200;
    assert.equal(b.waitMs('10.0.0.1'), 0);
    // Refills no further than the burst.
    clock.t = 100_000;
    b.charge('10.0.0.1', 10_001, 0);
    assert.ok(b.waitMs('10.0.0.1') > 0);
    b.close();
  });

  it('a keep-alive or tiny message still costs 1 KB', () => {
    const { b } = budget({ burstBytes: 2048 });
    b.charge('10.0.0.1', 0, 0);
    b.charge('10.0.0.1', 10, 0);
    assert.equal(b.waitMs('10.0.0.1'), 0, 'exactly at zero');
    b.charge('10.0.0.1', 0, 0);
    assert.equal(b.waitMs('10.0.0.1'), 102.4);
    b.close();
  });

  it('counts main-thread time in a bucket of its own', () => {
    const { b, clock } = budget({ bytesPerSecond: 0, cpuMsPerSecond: 100 });
    b.charge('10.0.0.1', 1_000_000, 90);
    assert.equal(b.waitMs('10.0.0.1'), 0, 'bytes are not counted with bytesPerSecond 0');
    b.charge('10.0.0.1', 0, 30);
    assert.equal(b.waitMs('10.0.0.1'), 200, '20 ms short at 100 ms a second');
    clock.t = 200;
    assert.equal(b.waitMs('10.0.0.1'), 0);
    b.close();
  });

  it('with both budgets 0 it is off and never holds anyone back', () => {
    const { b } = budget({ bytesPerSecond: 0, cpuMsPerSecond: 0 });
    assert.equal(b.enabled, false);
    b.charge('10.0.0.1', 1e9, 1e6);
    assert.equal(b.waitMs('10.0.0.1'), 0);
    b.close();
  });
});

// RFC 2782's order of SRV targets (sip-resolver.ts srvOrder): priorities ascending; within a
// priority, each next target drawn in proportion to its weight, a weight of 0 rarely first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { srvOrder } from '../../../src/sip/core/sip-resolver.ts';

const rec = (name: string, priority: number, weight: number) => ({ name, priority, weight, port: 5060 });

describe('srvOrder (RFC 2782)', () => {
  it('lower priorities first, whatever the order given', () => {
    const out = srvOrder([rec('c', 30, 5), rec('a', 10, 5), rec('b', 20, 5)]);
    assert.deepEqual(out.map((r) => r.name), ['a', 'b', 'c']);
  });

  it('within a priority, the first is drawn in proportion to its weight', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    const firsts: Record<string, number> = { heavy: 0, light: 0, zero: 0 };
    const n = 20_000;
    for (let i = 0; i < n; i++) firsts[srvOrder([rec('zero', 1, 0), rec('light', 1, 10), rec('heavy', 1, 30)], random)[0]!.name]!++;
    // Weights 30 : 10 : 0 of a draw in 0..40: 30/41, 10/41, 1/41.
    assert.ok(Math.abs(firsts.heavy! / n - 30 / 41) < 0.02, JSON.stringify(firsts));
    assert.ok(Math.abs(firsts.light! / n - 10 / 41) < 0.02, JSON.stringify(firsts));
    assert.ok(firsts.zero! > 0 && firsts.zero! / n < 0.05, JSON.stringify(firsts));
  });

  it('every record is in the order once; all weights 0 keeps them all', () => {
    const recs = [rec('a', 1, 0), rec('b', 1, 0), rec('c', 2, 0), rec('d', 2, 7)];
    for (let i = 0; i < 50; i++) {
      const out = srvOrder(recs);
      assert.deepEqual(out.map((r) => r.name).sort(), ['a', 'b', 'c', 'd']);
      assert.deepEqual(out.map((r) => r.priority), [1, 1, 2, 2]);
    }
  });
});

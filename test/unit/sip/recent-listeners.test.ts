import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentListeners } from '../../../src/sip/transport/recent-listeners.ts';

describe('RecentListeners', () => {
  it('a failure reaches the listeners inside the window, once each', () => {
    const l = new RecentListeners(1000);
    const heard: string[] = [];
    l.add(() => heard.push('old'), 0);
    l.add(() => heard.push('a'), 500);
    l.add(() => heard.push('b'), 1200);
    l.fail(new Error('ECONNRESET'), 1400);
    assert.deepEqual(heard, ['a', 'b']);
    l.fail(new Error('again'), 1450);
    assert.deepEqual(heard, ['a', 'b'], 'told once');
    assert.equal(l.size, 0);
  });

  it('keeps only the window under a steady stream (what a busy destination does)', () => {
    const l = new RecentListeners(100);
    for (let t = 0; t < 100_000; t++) l.add(() => undefined, t);
    assert.ok(l.size <= 1024 + 101 + 1, `holds ${l.size}`);
  });
});

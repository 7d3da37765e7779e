// SlicedPass: a pass over many items yields the event loop between slices, keeps the
// items' order, skips a pass asked for while one runs, and stops at close().
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlicedPass } from '../../../src/util/sliced-pass.ts';

const immediate = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Busy for `ms`: an item at least that long ends its slice whatever the machine's speed. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // as a recorder's drain would
  }
}

async function settle(pass: { readonly running: boolean }): Promise<void> {
  for (let i = 0; i < 1000 && pass.running; i++) await immediate();
}

describe('SlicedPass', () => {
  it('lets work queued on the loop run between slices, and visits every item in order', async () => {
    const seen: string[] = [];
    const pass = new SlicedPass<number>(1, (n) => {
      seen.push(`item ${n}`);
      busy(3);
    });
    try {
      setImmediate(() => seen.push('other work'));
      assert.equal(pass.start([0, 1, 2]), true);
      // The first slice ran at once and stopped after its first item (it took longer than the slice).
      assert.deepEqual(seen, ['item 0']);
      assert.equal(pass.running, true);
      await settle(pass);
      assert.deepEqual(seen, ['item 0', 'other work', 'item 1', 'item 2']);
      assert.equal(pass.running, false);
    } finally {
      pass.close();
    }
  });

  it('runs a pass of quick items in one go', () => {
    const seen: number[] = [];
    const pass = new SlicedPass<number>(60_000, (n) => seen.push(n));
    assert.equal(pass.start([1, 2, 3]), true);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(pass.running, false);
    // The next pass starts as soon as asked.
    assert.equal(pass.start([4]), true);
    assert.deepEqual(seen, [1, 2, 3, 4]);
    pass.close();
  });

  it('skips a pass asked for while one runs (that one reaches every item)', async () => {
    const seen: number[] = [];
    const pass = new SlicedPass<number>(1, (n) => {
      seen.push(n);
      busy(3);
    });
    try {
      assert.equal(pass.start([1, 2]), true);
      assert.equal(pass.start([9]), false);
      await settle(pass);
      assert.deepEqual(seen, [1, 2]);
      assert.equal(pass.start([3]), true);
      assert.deepEqual(seen, [1, 2, 3]);
    } finally {
      pass.close();
    }
  });

  it('drops the rest of a running pass at close(), which is idempotent', async () => {
    const seen: number[] = [];
    const pass = new SlicedPass<number>(1, (n) => {
      seen.push(n);
      busy(3);
    });
    pass.start([1, 2, 3]);
    pass.close();
    pass.close();
    for (let i = 0; i < 5; i++) await immediate();
    assert.deepEqual(seen, [1]);
    assert.equal(pass.running, false);
    assert.equal(pass.start([4]), false, 'a closed pass starts nothing');
  });

  it('goes on with the remaining items after one throws (the throw reaches the caller)', async () => {
    const seen: number[] = [];
    const pass = new SlicedPass<number>(60_000, (n) => {
      if (n === 1) throw new Error('bad item');
      seen.push(n);
    });
    try {
      assert.throws(() => pass.start([0, 1, 2, 3]), /bad item/);
      assert.deepEqual(seen, [0]);
      await settle(pass);
      assert.deepEqual(seen, [0, 2, 3]);
    } finally {
      pass.close();
    }
  });
});

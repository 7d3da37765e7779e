// siprec.metadataBudget's buckets with a fake clock: both or neither are charged, the
// empty one is named with its key, Retry-After is when the document would fit, tiny
// documents count MIN_CHARGE, too large ones nothing, sources are apart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataBudget, MIN_CHARGE } from '../../../src/siprec/metadata-budget.ts';

const config = { sessionBytesPerSecond: 1000, sessionBurstBytes: 10_000, sourceBytesPerSecond: 2000, sourceBurstBytes: 15_000 };

describe('siprec metadata budget', () => {
  it('charges both buckets or neither; names the empty one; refills at its rate', () => {
    let now = 0;
    const b = new MetadataBudget(config, () => now);
    const s1 = b.sessionBucket();
    assert.equal(b.take(s1, '10.0.0.1', 8000), null);
    const over = b.take(s1, '10.0.0.1', 8000);
    assert.deepEqual(over, { scope: 'session', key: 'siprec.metadataBudget.sessionBytesPerSecond', retryAfterSec: 6 });
    // Refused: the source was not charged for it. Another session from there takes 7000 (15000 - 8000).
    const s2 = b.sessionBucket();
    assert.equal(b.take(s2, '10.0.0.1', 7000), null);
    const src = b.take(b.sessionBucket(), '10.0.0.1', 5000);
    assert.deepEqual(src, { scope: 'source', key: 'siprec.metadataBudget.sourceBytesPerSecond', retryAfterSec: 3 });
    // Another address has its own bucket.
    assert.equal(b.take(b.sessionBucket(), '10.0.0.2', 5000), null);
    now += 3000;
    assert.equal(b.take(b.sessionBucket(), '10.0.0.1', 5000), null, 'refilled after 3 s');
    now += 3000;
    assert.equal(b.take(s1, '10.0.0.3', 8000), null, "the session's bucket refilled too");
    assert.deepEqual(b.overBudget, { session: 1, source: 1 });
  });

  it('a document counts its size, at least MIN_CHARGE; one too large to be parsed counts nothing', () => {
    assert.equal(MetadataBudget.charge(10, 65536), MIN_CHARGE);
    assert.equal(MetadataBudget.charge(5000, 65536), 5000);
    assert.equal(MetadataBudget.charge(70_000, 65536), 0);
    const b = new MetadataBudget(config, () => 0);
    const s = b.sessionBucket();
    for (let i = 0; i < 9; i++) assert.equal(b.take(s, 'a', MetadataBudget.charge(10, 65536)), null);
    assert.notEqual(b.take(s, 'a', MetadataBudget.charge(10, 65536)), null, 'ten tiny documents fill a 10 kB burst');
    assert.equal(b.take(s, 'a', 0), null);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission } from '../../../src/call/admission.ts';

describe('admission', () => {
  it('only upstream addresses may start calls when a list is set', () => {
    const a = new Admission({ upstreams: ['10.0.0.0/8', '192.0.2.7'], maxCalls: 0, maxCallRatePerSource: 0 });
    assert.deepEqual(a.check('10.1.2.3', 0), { ok: true });
    assert.deepEqual(a.check('192.0.2.7', 0), { ok: true });
    assert.deepEqual(a.check('::ffff:10.9.9.9', 0), { ok: true });
    assert.equal(a.check('192.0.2.8', 0).ok, false);
    assert.deepEqual(a.check('127.0.0.1', 0), { ok: false, status: 403, reason: 'Not An Upstream' });
    assert.equal(a.check(undefined, 0).ok, false);
    assert.deepEqual(new Admission({ upstreams: [], maxCalls: 0, maxCallRatePerSource: 0 }).check('203.0.113.1', 0), { ok: true });
  });

  it('the call cap answers 503 with Retry-After', () => {
    const a = new Admission({ upstreams: [], maxCalls: 2, maxCallRatePerSource: 0 });
    assert.equal(a.check('1.2.3.4', 1).ok, true);
    assert.deepEqual(a.check('1.2.3.4', 2), { ok: false, status: 503, reason: 'Too Many Calls', retryAfter: 5 });
  });

  it('admit() counts a call in at once and release() (idempotent) gives its place back: the cap holds exactly', () => {
    const a = new Admission({ upstreams: [], maxCalls: 2, maxCallRatePerSource: 0 });
    const t1 = a.admit('1.2.3.4');
    const t2 = a.admit('1.2.3.4');
    assert.ok(t1.ok && t2.ok);
    assert.equal(a.admitted, 2);
    assert.deepEqual(a.admit('1.2.3.4'), { ok: false, status: 503, reason: 'Too Many Calls', retryAfter: 5 });
    t1.release();
    t1.release();
    assert.equal(a.admitted, 1, 'a second release does not free another place');
    assert.ok(a.admit('1.2.3.4').ok);
    assert.equal(a.admit('1.2.3.4').ok, false);
  });

  it('the per-source rate is a token bucket: a burst of `rate`, then `rate` per second, per source', () => {
    let t = 0;
    const a = new Admission({ upstreams: [], maxCalls: 0, maxCallRatePerSource: 2 }, () => t);
    assert.equal(a.check('1.1.1.1', 0).ok, true);
    assert.equal(a.check('1.1.1.1', 0).ok, true);
    const refused = a.check('1.1.1.1', 0);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.retryAfter, 1);
    assert.equal(a.check('2.2.2.2', 0).ok, true, 'another source has its own bucket');
    t = 500;
    assert.equal(a.check('1.1.1.1', 0).ok, true, 'half a second later, one more');
    assert.equal(a.check('1.1.1.1', 0).ok, false);
  });

  it('draining refuses every new call with 503', () => {
    const a = new Admission({ upstreams: [], maxCalls: 0, maxCallRatePerSource: 0 });
    a.drain();
    assert.deepEqual(a.check('127.0.0.1', 0), { ok: false, status: 503, reason: 'Shutting Down', retryAfter: 30 });
  });
});

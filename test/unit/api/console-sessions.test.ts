// Console sessions on a fake clock: random ids, expiry from sign-in, sign-out,
// malformed ids refused, the store bounded, nothing left after close().
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCookie } from '../../../src/api/console/console-auth.ts';
import { ConsoleSessions } from '../../../src/api/console/console-sessions.ts';
import { SignInThrottle } from '../../../src/api/console/sign-in-throttle.ts';

describe('ConsoleSessions', () => {
  it('gives random ids that find their session until it expires', () => {
    let now = 1_000_000;
    const s = new ConsoleSessions(60, () => now);
    const a = s.create();
    const b = s.create();
    assert.match(a.id, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.id, b.id);
    assert.equal(s.get(a.id)?.expiresAt, 1_000_000 + 60_000);
    now += 59_999;
    assert.ok(s.get(a.id));
    now += 1;
    assert.equal(s.get(a.id), null, 'expired at createdAt + ttl');
    assert.equal(s.size, 1, 'the expired one looked up is dropped');
    s.create();
    assert.equal(s.size, 1, 'creating sweeps the other expired one');
    assert.equal(s.get(b.id), null);
  });

  it('keeps no id, refuses forged and malformed ones, signs out', () => {
    const s = new ConsoleSessions(60);
    const { id, session } = s.create();
    assert.notEqual(session.key, id);
    assert.equal(s.get(id.slice(0, -1) + (id.endsWith('A') ? 'B' : 'A')), null);
    for (const bad of [undefined, '', 'x', `${id}=`, '../../etc', id.toUpperCase() === id ? 'a'.repeat(43) : id.toUpperCase()]) assert.equal(s.get(bad), null, String(bad));
    assert.equal(s.delete(id), true);
    assert.equal(s.get(id), null);
    assert.equal(s.delete(id), false);
  });

  it('what a session keeps open is closed when it ends: signed out, expired, or the store closing; once, unless unregistered', async () => {
    const s = new ConsoleSessions(60);
    const ended: string[] = [];
    const a = s.create();
    s.onEnd(a.session, () => ended.push('a1'));
    const off = s.onEnd(a.session, () => ended.push('a2'));
    off();
    s.delete(a.id);
    s.delete(a.id);
    assert.deepEqual(ended, ['a1'], 'at sign-out, once; the unregistered one not');
    s.onEnd(a.session, () => ended.push('late'));
    assert.deepEqual(ended, ['a1', 'late'], 'registered on a session already over: at once');
    const short = new ConsoleSessions(0.05);
    const b = short.create();
    short.onEnd(b.session, () => ended.push('expired'));
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(ended.slice(2), ['expired'], 'at expiry, with nothing looked up (its own timer)');
    const c = s.create();
    s.onEnd(c.session, () => ended.push('shutdown'));
    s.close();
    assert.deepEqual(ended.slice(3), ['shutdown']);
  });

  it('close() ends every session; creating after it throws', () => {
    const s = new ConsoleSessions(60);
    const { id } = s.create();
    s.close();
    s.close();
    assert.equal(s.get(id), null);
    assert.throws(() => s.create(), /closed/);
  });

  it('reads one cookie out of a Cookie header', () => {
    assert.equal(readCookie('a=1; parley_console=abc; b=2', 'parley_console'), 'abc');
    assert.equal(readCookie('xparley_console=abc', 'parley_console'), undefined);
    assert.equal(readCookie(undefined, 'parley_console'), undefined);
    assert.equal(readCookie('parley_console=', 'parley_console'), '');
  });
});

describe('SignInThrottle', () => {
  it('blocks an address after 10 wrong tokens within a minute, until the minute is over; others are not touched', () => {
    let now = 0;
    const t = new SignInThrottle(10, 60_000, () => now);
    for (let i = 0; i < 9; i++) t.fail('10.0.0.1');
    assert.equal(t.retryAfterMs('10.0.0.1'), 0, 'nine: still allowed');
    now = 1000;
    t.fail('10.0.0.1');
    assert.equal(t.retryAfterMs('10.0.0.1'), 59_000, 'the tenth: blocked for the rest of the window');
    assert.equal(t.retryAfterMs('10.0.0.2'), 0);
    now = 60_000;
    assert.equal(t.retryAfterMs('10.0.0.1'), 0, 'the window is over');
    t.fail('10.0.0.1');
    assert.equal(t.retryAfterMs('10.0.0.1'), 0, 'counting starts again');
  });

  it('a sign-in that succeeds clears the count; the map stays bounded', () => {
    const t = new SignInThrottle(2, 60_000, () => 0, 3);
    t.fail('a');
    t.succeed('a');
    t.fail('a');
    assert.equal(t.retryAfterMs('a'), 0);
    for (const ip of ['b', 'c', 'd', 'e']) {
      t.fail(ip);
      t.fail(ip);
    }
    assert.equal(t.retryAfterMs('a'), 0, 'the oldest address was dropped');
    assert.ok(t.retryAfterMs('e') > 0);
  });
});

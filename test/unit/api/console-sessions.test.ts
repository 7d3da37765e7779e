// Console sessions on a fake clock: random ids, expiry from sign-in, sign-out,
// malformed ids refused, the store bounded, nothing left after close().
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCookie } from '../../../src/api/console/console-auth.ts';
import { ConsoleSessions } from '../../../src/api/console/console-sessions.ts';

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

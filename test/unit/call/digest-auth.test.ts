import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { DigestAuth, parseDigest } from '../../../src/call/digest-auth.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** What a SIP client computes for a challenge (RFC 2617 §3.2.2, qop=auth). */
function answer(challenge: string, user: string, pass: string, method: string, uri: string, over: Record<string, string> = {}): string {
  const c = parseDigest(challenge)!;
  const nc = '00000001';
  const cnonce = 'abc123';
  const ha1 = md5(`${user}:${c.realm}:${pass}`);
  const ha2 = md5(`${method}:${uri}`);
  const response = md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  const p = { username: user, realm: c.realm!, nonce: c.nonce!, uri, response, qop: 'auth', nc, cnonce, algorithm: 'MD5', ...over };
  return 'Digest ' + Object.entries(p).map(([k, v]) => (k === 'qop' || k === 'nc' || k === 'algorithm' ? `${k}=${v}` : `${k}="${v}"`)).join(', ');
}

describe('digest authentication', () => {
  const users = { alice: 'wonderland' };

  it('accepts the right password for the challenged nonce', () => {
    const d = new DigestAuth({ realm: 'parley', users });
    const ch = d.challenge();
    assert.match(ch, /^Digest realm="parley", nonce="[0-9a-f]+\.[0-9a-f]{32}", algorithm=MD5, qop="auth"$/);
    assert.deepEqual(d.verify('INVITE', answer(ch, 'alice', 'wonderland', 'INVITE', 'sip:bob@x')), { ok: true, user: 'alice' });
  });

  it('refuses a wrong password, an unknown user, another realm, a forged nonce, or none at all, with a fresh challenge', () => {
    const d = new DigestAuth({ realm: 'parley', users });
    const ch = d.challenge();
    const reason = (h: string | undefined) => {
      const r = d.verify('INVITE', h);
      assert.equal(r.ok, false);
      return r.ok ? '' : r.reason;
    };
    assert.equal(reason(answer(ch, 'alice', 'nope', 'INVITE', 'sip:bob@x')), 'wrong password');
    assert.equal(reason(answer(ch, 'mallory', 'x', 'INVITE', 'sip:bob@x')), 'unknown user');
    assert.equal(reason(answer(ch, 'alice', 'wonderland', 'INVITE', 'sip:bob@x', { realm: 'other' })), 'wrong realm');
    assert.equal(reason(answer(ch, 'alice', 'wonderland', 'INVITE', 'sip:bob@x', { nonce: '1.deadbeef' })), 'unknown nonce');
    assert.equal(reason(undefined), 'no credentials');
    assert.equal(reason('Basic YWxpY2U6eA=='), 'not a Digest Authorization header');
  });

  it('a response computed for another method does not pass', () => {
    const d = new DigestAuth({ realm: 'parley', users });
    const ch = d.challenge();
    assert.equal(d.verify('INVITE', answer(ch, 'alice', 'wonderland', 'BYE', 'sip:bob@x')).ok, false);
  });

  it('a nonce older than five minutes is stale: refused with stale=true', () => {
    let t = 1_000_000;
    const d = new DigestAuth({ realm: 'parley', users }, () => t);
    const ch = d.challenge();
    t += 6 * 60_000;
    const r = d.verify('INVITE', answer(ch, 'alice', 'wonderland', 'INVITE', 'sip:bob@x'));
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.challenge, /stale=true/);
  });
});

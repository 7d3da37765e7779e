// Where a callee's 3xx sends the bridge's INVITE next (redirectTarget).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redirectTarget } from '../../../src/call/redirect-target.ts';

/** A drachtio-srf SipError as createUAC rejects with it: status, and the response in `res`. */
function failure(status: number, contact?: string): unknown {
  return { status, reason: 'x', res: { get: (name: string) => (name === 'Contact' ? contact : undefined) } };
}

describe('redirectTarget', () => {
  it('the first Contact of a 3xx: in angle brackets or not, with a display name, among several', () => {
    assert.equal(redirectTarget(failure(302, '<sip:carol@10.0.0.2:5060;transport=tcp>;q=0.7')), 'sip:carol@10.0.0.2:5060;transport=tcp');
    assert.equal(redirectTarget(failure(301, 'sip:carol@example.com;expires=60')), 'sip:carol@example.com');
    assert.equal(redirectTarget(failure(302, '"Carol, mobile" <sips:carol@example.com>, <sip:dave@example.com>')), 'sips:carol@example.com');
    assert.equal(redirectTarget(failure(305, 'sip:a@b, sip:c@d')), 'sip:a@b');
    assert.equal(redirectTarget(failure(302, '<tel:+15551234567>')), 'tel:+15551234567');
  });

  it('nothing to follow: not a 3xx, no Contact, a URI of another scheme or with headers, no response', () => {
    assert.equal(redirectTarget(failure(486, '<sip:carol@example.com>')), null);
    assert.equal(redirectTarget(failure(302)), null);
    assert.equal(redirectTarget(failure(302, '<http://example.com/>')), null);
    assert.equal(redirectTarget(failure(302, '<sip:carol@example.com?Subject=x>')), null);
    assert.equal(redirectTarget({ status: 302 }), null);
    assert.equal(redirectTarget(new Error('boom')), null);
  });
});

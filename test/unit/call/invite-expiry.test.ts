import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inviteExpiresMs } from '../../../src/call/invite-expiry.ts';

describe("an INVITE's Expires", () => {
  it('is delta-seconds of at least 1, in ms, capped at a day', () => {
    assert.equal(inviteExpiresMs('3'), 3000);
    assert.equal(inviteExpiresMs(' 180 '), 180_000);
    assert.equal(inviteExpiresMs('4294967295'), 24 * 3600_000);
  });

  it('is none when absent, 0, or not delta-seconds (a date, a sign, a fraction, too long)', () => {
    for (const v of [undefined, '', '0', '-5', '1.5', 'Thu, 01 Dec 1994 16:00:00 GMT', '12345678901', '3 ;x']) assert.equal(inviteExpiresMs(v), null, String(v));
  });
});

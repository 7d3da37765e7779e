// RFC 4028 decisions of a UAS 2xx: who refreshes, what the 2xx says, when the server acts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSessionExpires, sessionTimerDelayMs, uasSessionTimer } from '../../../src/sip/dialog/session-timer.ts';
import { SipMessage } from '../../../src/sip/message/sip-message.ts';

function invite(headers: [string, string][]): SipMessage {
  const m = SipMessage.request('INVITE', 'sip:a@b');
  for (const [n, v] of headers) m.add(n, v);
  return m;
}
const ok = (): SipMessage => SipMessage.response(200, 'OK');

describe('session timer (UAS)', () => {
  it('parses Session-Expires with and without refresher', () => {
    assert.deepEqual(parseSessionExpires('1800;refresher=uac'), { interval: 1800, refresher: 'uac' });
    assert.deepEqual(parseSessionExpires(' 90 ; refresher = UAS'), { interval: 90, refresher: 'uas' });
    assert.deepEqual(parseSessionExpires('600'), { interval: 600, refresher: null });
    assert.equal(parseSessionExpires('soon'), null);
    assert.equal(parseSessionExpires(undefined), null);
  });

  it('no Session-Expires asked: no timer, nothing added', () => {
    const res = ok();
    assert.equal(uasSessionTimer(invite([['Supported', 'timer']]), res), null);
    assert.equal(res.has('Session-Expires'), false);
  });

  it('the request chose the refresher: kept; refresher=uac adds Require: timer', () => {
    const res = ok();
    assert.deepEqual(uasSessionTimer(invite([['Supported', 'timer, 100rel'], ['Session-Expires', '1800;refresher=uac']]), res), { interval: 1800, refresher: 'uac' });
    assert.equal(res.get('Session-Expires'), '1800;refresher=uac');
    assert.equal(res.get('Require'), 'timer');
  });

  it('no refresher chosen: the UAC when it supports timers, else us when it allows UPDATE, else no timer', () => {
    let res = ok();
    assert.equal(uasSessionTimer(invite([['Supported', 'timer'], ['Session-Expires', '900']]), res)?.refresher, 'uac');
    res = ok();
    assert.equal(uasSessionTimer(invite([['Allow', 'INVITE, ACK, BYE, UPDATE'], ['Session-Expires', '900']]), res)?.refresher, 'uas');
    assert.equal(res.get('Session-Expires'), '900;refresher=uas');
    assert.equal(res.has('Require'), false, 'no Require: timer when we refresh');
    res = ok();
    assert.equal(uasSessionTimer(invite([['Session-Expires', '900']]), res), null, 'a proxy asked, nobody can refresh');
    assert.equal(res.has('Session-Expires'), false);
  });

  it('refresher=uas asked but no UPDATE allowed: the UAC refreshes when it can', () => {
    const res = ok();
    assert.equal(uasSessionTimer(invite([['Supported', 'timer'], ['Session-Expires', '900;refresher=uas']]), res)?.refresher, 'uac');
  });

  it("the app's own Session-Expires in its 2xx is followed as it is", () => {
    const res = ok().add('Session-Expires', '120;refresher=uas');
    assert.deepEqual(uasSessionTimer(invite([['Session-Expires', '1800']]), res), { interval: 120, refresher: 'uas' });
    assert.equal(res.getAll('Session-Expires').length, 1);
  });

  it('acts at half the interval when refreshing, before expiry (less min(32 s, a third)) when waiting', () => {
    assert.equal(sessionTimerDelayMs(1800, true), 900_000);
    assert.equal(sessionTimerDelayMs(1800, false), 1_768_000);
    assert.equal(sessionTimerDelayMs(90, false), 60_000);
  });
});

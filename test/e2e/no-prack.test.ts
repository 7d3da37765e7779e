// parley-tests: beside
// A caller that requires 100rel (RFC 3262) and never PRACKs Parley's reliable 183, on a
// bridge whose callee answers at once: after 64*T1 the INVITE is rejected (500 No PRACK,
// §3) and the call ends with it: the callee, already answered, gets a BYE and nothing of the
// call is left. Before, the server's 500 went out but the call lived on (the callee in dead
// air, the call in GET /calls, its recording open) until the guard, about a minute later.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { assertNothingLeft } from './leftovers.ts';
import { flowYaml, offerSdp, okTo, RawDialog, rawParleyPerSuite, replyTo, responseTo, statusOf } from './raw-dialog.ts';


describe('a caller that requires 100rel and never PRACKs', () => {
  // The harness's T1 is 100 ms: the reliable 183 is given up after 6.4 s.
  const parley = rawParleyPerSuite(flowYaml('gw', '    - answer: { early: true }\n    - record: { action: start }\n    - bridge: { ringTimeout: 20 }\n'));

  it('gets 500 No PRACK after 64*T1, and the call ends with it: the answered callee gets a BYE, nothing is left', async () => {
    const p = parley();
    const callerUa = await RawSipClient.open();
    const calleeUa = await RawSipClient.open();
    try {
      const c = new RawDialog(callerUa, p.sipPort, 'no-prack', 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
      c.sendText(c.req('INVITE', offerSdp(40970)).replace('Max-Forwards: 70', 'Max-Forwards: 70\r\nRequire: 100rel'));
      const reliable = await callerUa.nextMatching(/^SIP\/2\.0 183 /, 10_000);
      assert.match(reliable, /\r\nRSeq: *\d+/i, 'the 183 is reliable');
      const invite = await calleeUa.nextMatching(/^INVITE /, 10_000);
      replyTo(calleeUa, invite, responseTo(invite, '200 OK', 'bob1', offerSdp(40980), calleeUa.port));
      await calleeUa.nextMatching(/^ACK /, 10_000, header(invite, 'Call-ID'));
      const final = await c.final(15_000);
      assert.equal(statusOf(final), 500, final.split('\r\n')[0]);
      const rejected = Date.now();
      c.ackFailure(1);
      const bye = await calleeUa.nextMatching(/^BYE /, 5_000, header(invite, 'Call-ID'));
      replyTo(calleeUa, bye, okTo(bye));
      assert.ok(Date.now() - rejected < 3_000, `the callee is hung up right after the 500 (${Date.now() - rejected} ms)`);
      await assertNothingLeft(p);
    } finally {
      callerUa.close();
      calleeUa.close();
    }
  });
});

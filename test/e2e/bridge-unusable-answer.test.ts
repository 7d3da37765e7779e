// parley-tests: beside
// A bridge (no fallback) whose callee answers 200 with SDP Parley cannot use (only G.729, or
// none at all): the callee is hung up (ACK, then BYE) and the caller's INVITE, still unanswered
// (early media: ringback), gets 488 as its final response. Before, the caller got a 200 first
// and a BYE right after: a connected call for a billing system, for no call at all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, flowYaml, okTo, RawDialog, rawParleyPerSuite, replyTo, responseTo, statusOf } from './raw-dialog.ts';

const G729_ONLY = (port: number): string =>
  ['v=0', 'o=bob 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 18`, 'a=rtpmap:18 G729/8000', 'a=sendrecv', ''].join('\r\n');

const CALLER_SDP = ['v=0', 'o=adv 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40990 RTP/AVP 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');

describe('a bridged callee whose answer cannot be used', () => {
  const parley = rawParleyPerSuite(flowYaml('gw', '    - bridge: { ringTimeout: 10 }\n'));

  for (const [name, body] of [
    ['only G.729', G729_ONLY(41000)],
    ['no SDP at all', ''],
  ] as const) {
    it(`answers 200 with ${name}: the callee is hung up, the caller's INVITE gets 488 (never a 200)`, async () => {
      const p = parley();
      const callerUa = await RawSipClient.open();
      const calleeUa = await RawSipClient.open();
      try {
        const c = new RawDialog(callerUa, p.sipPort, `unusable-${name.length}`, 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
        c.send('INVITE', CALLER_SDP);
        const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
        replyTo(calleeUa, invite, responseTo(invite, '200 OK', 'bob1', body, calleeUa.port));
        const ack = await calleeUa.nextMatching(/^ACK /, 10_000, header(invite, 'Call-ID'));
        assert.equal(bodyOf(ack), '', 'the ACK carries no answer of its own');
        const bye = await calleeUa.nextMatching(/^BYE /, 10_000, header(invite, 'Call-ID'));
        assert.match(header(bye, 'Reason') ?? '', /cause=488/, 'the BYE says why');
        replyTo(calleeUa, bye, okTo(bye));
        const final = await c.final(10_000);
        assert.equal(statusOf(final), 488, `the caller's final response: ${final.split('\r\n')[0]}`);
        c.ackFailure(1);
        await assertNothingLeft(p);
      } finally {
        callerUa.close();
        calleeUa.close();
      }
    });
  }
});

// The bridge's `srtp: follow`: a caller that came with SDES-SRTP gets a callee leg that is
// SDES-SRTP too (Parley terminates both legs' media, so without it the callee's side went
// out as plain RTP); a plain caller's callee is offered plain RTP, as before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { callEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, flowYaml, rawBridgedCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const CALLER_HZ = 700;
const CALLEE_HZ = 1300;

describe('bridge srtp: follow', () => {
  const parley = rawParleyPerSuite(flowYaml('gw', '    - answer\n    - bridge: { ringTimeout: 10, srtp: follow }\n'));

  for (const srtp of [true, false]) {
    it(srtp ? 'an SRTP caller: the callee is offered RTP/SAVP with a key of Parley\'s; both hear each other through two SRTP legs' : 'a plain caller: the callee is offered plain RTP', async () => {
      const p = parley();
      const callerUa = await RawSipClient.open();
      const calleeUa = await RawSipClient.open();
      const suite = srtp ? ('AES_CM_128_HMAC_SHA1_80' as const) : undefined;
      const caller = await new RtpPeer({ codec: 'PCMU', srtp: suite }).bind();
      const callee = await new RtpPeer({ codec: 'PCMU', srtp: suite, latch: true }).bind();
      try {
        const { c, invite } = await rawBridgedCall({ sipPort: p.sipPort, name: `srtp-${srtp}`, user: 'bob', callerUa, calleeUa, caller, callee, callerHz: CALLER_HZ, calleeHz: CALLEE_HZ, calleeTag: 'bob1' });
        const ended = callEnd(p, c.callId, 30_000);
        const offer = bodyOf(invite);
        if (srtp) {
          assert.match(offer, /^m=audio \d+ RTP\/SAVP /m, 'the callee is offered SRTP');
          assert.match(offer, /^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/=]{40}\r?$/m);
        } else {
          assert.match(offer, /^m=audio \d+ RTP\/AVP /m, 'the callee is offered plain RTP');
          assert.doesNotMatch(offer, /a=crypto/);
        }
        callee.useRemoteSdp(offer);
        const callerHears = await comesToHear(caller, CALLEE_HZ, 0);
        assert.ok(callerHears.ok, `the caller hears the callee: ${callerHears.detail}`);
        const calleeHears = await comesToHear(callee, CALLER_HZ, 0);
        assert.ok(calleeHears.ok, `the callee hears the caller: ${calleeHears.detail}`);
        c.send('BYE', '', 2);
        assert.equal(statusOf(await c.finalTo('2 BYE')), 200);
        await answerBye(calleeUa, p.sipPort, header(invite, 'Call-ID'));
        await ended;
        await assertNothingLeft(p);
      } finally {
        callerUa.close();
        calleeUa.close();
        await caller.close();
        await callee.close();
      }
    });
  }
});

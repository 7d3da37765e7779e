// The bridge's `srtp: follow`: a caller that came with SDES-SRTP gets a callee leg that is
// SDES-SRTP too (Parley terminates both legs' media, so without it the callee's side went
// out as plain RTP), and so does the target of the callee's transfer; a plain caller's
// callee is offered plain RTP, as before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { callEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, calleeRequest, flowYaml, rawBridgedCall, rawParleyPerSuite, replyTo, responseTo, statusOf, TransferorPhone, type RawDialog } from './raw-dialog.ts';

const CALLER_HZ = 700;
const CALLEE_HZ = 1300;
const TARGET_HZ = 1000;

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
        await hearEachOther(caller, callee, CALLEE_HZ, 0, 'the callee');
        await callerHangsUp(p, c, calleeUa, header(invite, 'Call-ID'), ended);
      } finally {
        callerUa.close();
        calleeUa.close();
        await caller.close();
        await callee.close();
      }
    });
  }

  it("the callee's blind transfer: the target is offered SRTP too (it follows the caller), and caller and target hear each other", async () => {
    const p = parley();
    const callerUa = await RawSipClient.open();
    const agentUa = await RawSipClient.open();
    const targetUa = await RawSipClient.open();
    const suite = 'AES_CM_128_HMAC_SHA1_80' as const;
    const caller = await new RtpPeer({ codec: 'PCMU', srtp: suite }).bind();
    const agentRtp = await new RtpPeer({ codec: 'PCMU', srtp: suite, latch: true }).bind();
    const target = await new RtpPeer({ codec: 'PCMU', srtp: suite, latch: true }).bind();
    const agent = new TransferorPhone(agentUa);
    try {
      const { c, invite } = await rawBridgedCall({ sipPort: p.sipPort, name: 'srtp-xfer', user: 'agent', callerUa, calleeUa: agentUa, caller, callee: agentRtp, callerHz: CALLER_HZ, calleeHz: CALLEE_HZ, calleeTag: 'agent1', nextFromCallee: (re) => agent.next(re) });
      const ended = callEnd(p, c.callId, 30_000);
      agentRtp.useRemoteSdp(bodyOf(invite));
      agentUa.send(p.sipPort, calleeRequest(invite, 'agent1', 'REFER', 1, agentUa.port, [`Refer-To: <sip:carol@127.0.0.1:${targetUa.port}>`, `Contact: <sip:agent@127.0.0.1:${agentUa.port}>`]));
      assert.equal(statusOf(await agent.next(/^SIP\/2\.0 /)), 202, 'the REFER is accepted');
      const toTarget = await targetUa.nextMatching(/^INVITE /, 15_000);
      assert.match(bodyOf(toTarget), /^m=audio \d+ RTP\/SAVP /m, 'the target is offered SRTP');
      replyTo(targetUa, toTarget, responseTo(toTarget, '200 OK', 'carol1', target.sdp(), targetUa.port));
      await targetUa.nextMatching(/^ACK /, 10_000, header(toTarget, 'Call-ID'));
      target.useRemoteSdp(bodyOf(toTarget));
      target.start({ kind: 'tone', freq: TARGET_HZ, amplitude: 8000 });
      await agent.toldDone();
      agentUa.send(p.sipPort, calleeRequest(invite, 'agent1', 'BYE', 2, agentUa.port));
      agentRtp.stopSending();
      await hearEachOther(caller, target, TARGET_HZ, caller.received.length, 'the target');
      await callerHangsUp(p, c, targetUa, header(toTarget, 'Call-ID'), ended);
    } finally {
      agent.close();
      for (const ua of [callerUa, agentUa, targetUa]) ua.close();
      for (const r of [caller, agentRtp, target]) await r.close();
    }
  });
});

/** The caller hears `other`'s `otherHz` (in what it received from `from` on), and `other` hears the caller. */
async function hearEachOther(caller: RtpPeer, other: RtpPeer, otherHz: number, from: number, name: string): Promise<void> {
  const callerHears = await comesToHear(caller, otherHz, from);
  assert.ok(callerHears.ok, `the caller hears ${name}: ${callerHears.detail}`);
  const otherHears = await comesToHear(other, CALLER_HZ, 0);
  assert.ok(otherHears.ok, `${name} hears the caller: ${otherHears.detail}`);
}

/** The caller hangs up; Parley's BYE to the far party (its dialog `farCallId`) is answered; the call ends and leaves nothing. */
async function callerHangsUp(p: RunningParley, c: RawDialog, farUa: RawSipClient, farCallId: string, ended: Promise<unknown>): Promise<void> {
  c.send('BYE', '', 2);
  assert.equal(statusOf(await c.finalTo('2 BYE')), 200);
  await answerBye(farUa, p.sipPort, farCallId);
  await ended;
  await assertNothingLeft(p);
}

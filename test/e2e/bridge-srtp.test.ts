// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// The bridge's `srtp: follow`: a caller that came with SDES-SRTP gets a callee leg that is
// SDES-SRTP too (Parley terminates both legs' media, so without it the callee's side went
// out as plain RTP), and so does the target of the callee's transfer; a plain caller's
// callee is offered plain RTP, as before; a callee that refuses the SRTP offer (488) is
// offered plain RTP once more.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { answerWithBaresip } from '../helpers/baresip.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { callEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, calleeRequest, flowYaml, RawDialog, rawBridgedCall, rawParleyPerSuite, replyTo, responseTo, statusOf, TransferorPhone } from './raw-dialog.ts';

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

  it('a callee without SRTP answers the SRTP offer 488: it is offered plain RTP once more, and both hear each other', async () => {
    const p = parley();
    const callerUa = await RawSipClient.open();
    const calleeUa = await RawSipClient.open();
    const caller = await new RtpPeer({ codec: 'PCMU', srtp: 'AES_CM_128_HMAC_SHA1_80' }).bind();
    const callee = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      const c = new RawDialog(callerUa, p.sipPort, 'srtp-488', 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
      c.send('INVITE', caller.sdp());
      const ok = await c.final(15_000);
      assert.equal(statusOf(ok), 200, 'the caller is answered (the flow answers first)');
      c.confirm(ok);
      c.send('ACK', '', 1);
      const ended = callEnd(p, c.callId, 30_000);
      const first = await calleeUa.nextMatching(/^INVITE /, 15_000);
      assert.match(bodyOf(first), /^m=audio \d+ RTP\/SAVP /m, 'the first offer is SRTP');
      replyTo(calleeUa, first, responseTo(first, '488 Not Acceptable Here', 'bob0'));
      await calleeUa.nextMatching(/^ACK /, 10_000, header(first, 'Call-ID'));
      const second = await calleeUa.nextMatching(/^INVITE /, 15_000);
      assert.notEqual(header(second, 'Call-ID'), header(first, 'Call-ID'), 'a new INVITE');
      assert.match(bodyOf(second), /^m=audio \d+ RTP\/AVP /m, 'the second offer is plain RTP');
      assert.doesNotMatch(bodyOf(second), /a=crypto/);
      replyTo(calleeUa, second, responseTo(second, '200 OK', 'bob1', callee.sdp(), calleeUa.port));
      await calleeUa.nextMatching(/^ACK /, 10_000, header(second, 'Call-ID'));
      caller.useRemoteSdp(bodyOf(ok));
      callee.useRemoteSdp(bodyOf(second));
      caller.start({ kind: 'tone', freq: CALLER_HZ, amplitude: 8000 });
      callee.start({ kind: 'tone', freq: CALLEE_HZ, amplitude: 8000 });
      await hearEachOther(caller, callee, CALLEE_HZ, 0, 'the callee');
      await callerHangsUp(p, c, calleeUa, header(second, 'Call-ID'), ended);
    } finally {
      callerUa.close();
      calleeUa.close();
      await caller.close();
      await callee.close();
    }
  });

  it('baresip without SRTP as the callee (it answers the SRTP offer 488, no common media): it is called again with plain RTP and heard', async () => {
    const p = parley();
    const agent = await answerWithBaresip({ toneHz: CALLEE_HZ, quitAfterS: 30 });
    const callerUa = await RawSipClient.open();
    const caller = await new RtpPeer({ codec: 'PCMU', srtp: 'AES_CM_128_HMAC_SHA1_80' }).bind();
    try {
      const c = new RawDialog(callerUa, p.sipPort, 'srtp-baresip', 'bob', agent.uri);
      const ended = callEnd(p, c.callId, 30_000);
      const ok = await c.invite(caller.sdp());
      assert.equal(statusOf(ok), 200, ok);
      caller.useRemoteSdp(bodyOf(ok));
      caller.start({ kind: 'tone', freq: CALLER_HZ, amplitude: 8000 });
      const hears = await comesToHear(caller, CALLEE_HZ, 0);
      assert.ok(hears.ok, `the caller hears baresip: ${hears.detail}`);
      const out = agent.output();
      assert.match(out, /RTP\/SAVP[\s\S]*SIP\/2\.0 488 [\s\S]*Call established/, 'baresip refused the SRTP offer, then took the plain one');
      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
      await ended;
      await assertNothingLeft(p);
    } finally {
      await agent.stop();
      callerUa.close();
      await caller.close();
    }
  });

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

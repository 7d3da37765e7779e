// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// An attended transfer whose consultation call went through Parley too, as behind a
// record-notice gateway that handles every call: a customer's call (A) is bridged to an agent;
// the agent calls a supervisor through Parley (B, the consultation call), then REFERs A with a
// Refer-To of Parley's own Contact and a Replaces naming its dialog of B with Parley. Parley
// joins its two calls (consultation.ts): the INVITE goes to the supervisor's Contact with a
// Replaces naming the supervisor's own dialog of B (RFC 3891), the supervisor hangs B up, Parley
// ends B for the agent, and the customer and the supervisor hear each other in A, whose one
// recording goes on with the supervisor's stem. Raw SIP over UDP for every party, real RTP.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { purity, readWavFile } from '../helpers/audio-analysis.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { contactUri, header, inDialogFrom, RawSipClient, tagOf } from '../helpers/raw-sip-client.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { callEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, calleeRequest, RECORDED_BRIDGE_YAML, rawBridgedCall, rawParleyPerSuite, replacingInvite, responseTo, statusOf, TransferorPhone } from './raw-dialog.ts';

const CUSTOMER_HZ = 1000;
const AGENT_HZ = 600;
const SUPERVISOR_HZ = 1400;

describe('an attended transfer whose consultation call went through Parley too', () => {
  const parley = rawParleyPerSuite(RECORDED_BRIDGE_YAML);

  it('Parley joins its two calls: the supervisor replaces its consultation dialog, the customer is connected to it, the consultation call ends, the recording goes on', async () => {
    await attendedTransfer(parley(), true);
  });

  it('a supervisor that keeps its replaced dialog: Parley ends the consultation call itself (BYE to both of its parties)', async () => {
    await attendedTransfer(parley(), false);
  });
});

describe('an INVITE with Replaces naming a bridged party (the agent REFERred the supervisor instead)', () => {
  const parley = rawParleyPerSuite(RECORDED_BRIDGE_YAML);

  it('the supervisor takes the agent\'s place in the customer\'s call: 200, the agent gets a BYE, both hear each other, the recording goes on; unknown or mismatched dialogs get 481, a Replaces without its from-tag 400', async () => {
    const p = parley();
    const customerUa = await RawSipClient.open();
    const agentUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const customer = await new RtpPeer({ codec: 'PCMU' }).bind();
    const agentA = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      const { c: a, invite: inviteA } = await rawBridgedCall({ sipPort: p.sipPort, name: 'customer-replaced', user: 'agent', callerUa: customerUa, calleeUa: agentUa, caller: customer, callee: agentA, callerHz: CUSTOMER_HZ, calleeHz: AGENT_HZ, calleeTag: 'agentA' });
      const aEnded = callEnd(p, a.callId, 60_000);
      const before = await comesToHear(customer, AGENT_HZ, 0);
      assert.ok(before.ok, `the customer hears the agent: ${before.detail}`);

      const bLeg = header(inviteA, 'Call-ID');
      const parleyTag = tagOf(header(inviteA, 'From'));
      const ruri = contactUri(inviteA);
      const refused = [
        [481, `no-such-call@h;to-tag=${parleyTag};from-tag=agentA`],
        [481, `${bLeg};to-tag=wrong;from-tag=agentA`],
        [400, `${bLeg};to-tag=${parleyTag}`],
      ] as const;
      for (const [i, [status, replaces]] of refused.entries()) {
        const callId = `repl-refused-${i}-${process.pid}`;
        supUa.send(p.sipPort, replacingInvite(supUa, ruri, callId, replaces, sup.sdp()));
        assert.equal(statusOf(await supUa.nextMatching(/^SIP\/2\.0 [3-6]\d\d /, 10_000, callId)), status, replaces);
      }
      assert.equal(p.app.calls!.active.size, 1, 'no new call was made of them');

      const callId = `repl-${process.pid}`;
      supUa.send(p.sipPort, replacingInvite(supUa, ruri, callId, `${bLeg};to-tag=${parleyTag};from-tag=agentA`, sup.sdp()));
      const ok = await supUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000, callId);
      assert.equal(statusOf(ok), 200, ok);
      supUa.send(p.sipPort, inDialogFrom(ok, '', 'ACK', 1, supUa.port, contactUri(ok), 'x', '').replace(/\r\nContent-Type: x/, ''));
      sup.start({ kind: 'tone', freq: SUPERVISOR_HZ, amplitude: 8000 });
      await answerBye(agentUa, p.sipPort, bLeg);
      agentA.stopSending();
      const after = await comesToHear(customer, SUPERVISOR_HZ, customer.received.length);
      assert.ok(after.ok, `the customer hears the supervisor: ${after.detail}`);
      const heard = await comesToHear(sup, CUSTOMER_HZ, 0);
      assert.ok(heard.ok, `the supervisor hears the customer: ${heard.detail}`);
      assert.deepEqual([...p.app.calls!.active.keys()], [a.callId], 'still the one call');

      a.cseq++;
      a.send('BYE');
      assert.equal(statusOf(await a.finalTo(`${a.cseq} BYE`)), 200);
      await answerBye(supUa, p.sipPort, callId);
      await aEnded;
      await assertNothingLeft(p);
      const meta = await waitFor('the closed recording', () => finalSidecars(p.recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === a.callId)), 10_000);
      const legs = meta.legs as Array<{ id: string; callId: string }>;
      assert.deepEqual(legs.map((l) => l.id).sort(), ['callee', 'callee-2', 'caller']);
      assert.equal(legs.find((l) => l.id === 'callee-2')!.callId, callId);
      const transfers = meta.transfers as Array<{ event: string; leg: string; newLeg?: string; target: string }>;
      assert.deepEqual(transfers.map((t) => [t.event, t.leg, t.newLeg]), [['replaced', 'callee', 'callee-2']], 'the sidecar lists the replacement');
      assert.match(transfers[0]!.target, /^sip:/, 'with the new party\'s URI');
    } finally {
      for (const ua of [customerUa, agentUa, supUa]) ua.close();
      for (const r of [customer, agentA, sup]) await r.close();
    }
  });
});

describe('an INVITE with Replaces naming the caller of a bridge (an agent that dialled out through Parley)', () => {
  const parley = rawParleyPerSuite(RECORDED_BRIDGE_YAML);

  it('the supervisor stands in for the agent (caller-2): the agent gets a BYE, the customer hears the supervisor, the call ends when the customer hangs up', async () => {
    const p = parley();
    const agentUa = await RawSipClient.open();
    const customerUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const agent = await new RtpPeer({ codec: 'PCMU' }).bind();
    const customer = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      const { c: a, invite: toCustomer } = await rawBridgedCall({ sipPort: p.sipPort, name: 'agent-out', user: 'cust', callerUa: agentUa, calleeUa: customerUa, caller: agent, callee: customer, callerHz: AGENT_HZ, calleeHz: CUSTOMER_HZ, calleeTag: 'cust1' });
      const aEnded = callEnd(p, a.callId, 60_000);
      const before = await comesToHear(customer, AGENT_HZ, 0);
      assert.ok(before.ok, `the customer hears the agent: ${before.detail}`);

      const callId = `repl-caller-${process.pid}`;
      const agentTag = tagOf(header(a.req('BYE'), 'From'));
      supUa.send(p.sipPort, replacingInvite(supUa, a.contact, callId, `${a.callId};to-tag=${a.toTag};from-tag=${agentTag}`, sup.sdp()));
      const ok = await supUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000, callId);
      assert.equal(statusOf(ok), 200, ok);
      supUa.send(p.sipPort, inDialogFrom(ok, '', 'ACK', 1, supUa.port, contactUri(ok), 'x', '').replace(/\r\nContent-Type: x/, ''));
      sup.start({ kind: 'tone', freq: SUPERVISOR_HZ, amplitude: 8000 });
      await answerBye(agentUa, p.sipPort, a.callId);
      agent.stopSending();
      const after = await comesToHear(customer, SUPERVISOR_HZ, customer.received.length);
      assert.ok(after.ok, `the customer hears the supervisor: ${after.detail}`);
      const heard = await comesToHear(sup, CUSTOMER_HZ, 0);
      assert.ok(heard.ok, `the supervisor hears the customer: ${heard.detail}`);
      assert.equal(p.app.calls!.active.size, 1, 'the call goes on without its caller');

      // The customer hangs up: the supervisor gets the BYE, the call ends.
      customerUa.send(p.sipPort, calleeRequest(toCustomer, 'cust1', 'BYE', 2, customerUa.port));
      assert.equal(statusOf(await customerUa.nextMatching(/^SIP\/2\.0 /, 10_000, header(toCustomer, 'Call-ID'))), 200);
      await answerBye(supUa, p.sipPort, callId);
      await aEnded;
      await assertNothingLeft(p);
      const meta = await waitFor('the closed recording', () => finalSidecars(p.recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === a.callId)), 10_000);
      const legs = meta.legs as Array<{ id: string; callId: string; role: string; stereo?: string }>;
      assert.deepEqual(legs.map((l) => l.id).sort(), ['callee', 'caller', 'caller-2']);
      const standIn = legs.find((l) => l.id === 'caller-2')!;
      assert.deepEqual([standIn.callId, standIn.role, standIn.stereo], [callId, 'caller', 'left'], 'the supervisor stands in for the caller');
    } finally {
      for (const ua of [customerUa, agentUa, supUa]) ua.close();
      for (const r of [customer, agent, sup]) await r.close();
    }
  });
});

async function attendedTransfer(p: RunningParley, supervisorHangsUp: boolean): Promise<void> {
  const name = supervisorHangsUp ? 'bye' : 'kept';
  {
    const customerUa = await RawSipClient.open();
    const agentAUa = await RawSipClient.open();
    const agentBUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const customer = await new RtpPeer({ codec: 'PCMU' }).bind();
    const agentA = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const agentB = await new RtpPeer({ codec: 'PCMU' }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const sup2 = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const agent = new TransferorPhone(agentAUa);
    try {
      // B, the consultation call: the agent calls the supervisor through Parley.
      const { c: b, invite: inviteB } = await rawBridgedCall({ sipPort: p.sipPort, name: `consult-${name}`, user: 'sup', callerUa: agentBUa, calleeUa: supUa, caller: agentB, callee: sup, callerHz: AGENT_HZ, calleeHz: SUPERVISOR_HZ, calleeTag: 'sup1' });
      const bEnded = callEnd(p, b.callId, 60_000);
      const consulted = await comesToHear(agentB, SUPERVISOR_HZ, 0);
      assert.ok(consulted.ok, `the agent hears the supervisor in B: ${consulted.detail}`);

      // A: the customer's call, bridged to the agent.
      const { c: a, invite: inviteA } = await rawBridgedCall({ sipPort: p.sipPort, name: `customer-${name}`, user: 'agent', callerUa: customerUa, calleeUa: agentAUa, caller: customer, callee: agentA, callerHz: CUSTOMER_HZ, calleeHz: AGENT_HZ, calleeTag: 'agentA', nextFromCallee: (re) => agent.next(re) });
      const aEnded = callEnd(p, a.callId, 60_000);
      const before = await comesToHear(customer, AGENT_HZ, 0);
      assert.ok(before.ok, `the customer hears the agent: ${before.detail}`);

      // The agent transfers A to the supervisor, replacing its consultation call: as phones do, the
      // Refer-To is B's remote target (Parley's Contact) and the Replaces names the agent's dialog of B.
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      agentAUa.send(p.sipPort, calleeRequest(inviteA, 'agentA', 'REFER', 1, agentAUa.port, [
        `Refer-To: <${b.contact}?Replaces=${encodeURIComponent(replaces)}>`,
        `Referred-By: <sip:agent@127.0.0.1:${agentAUa.port}>`,
        `Contact: <sip:agent@127.0.0.1:${agentAUa.port}>`,
      ]));
      assert.equal(statusOf(await agent.next(/^SIP\/2\.0 /)), 202, 'the REFER is accepted');

      // The supervisor gets an INVITE at its Contact, replacing its own dialog of B.
      const replacing = await supUa.nextMatching(/^INVITE /, 15_000);
      assert.match(replacing, new RegExp(`^INVITE sip:callee@127\\.0\\.0\\.1:${supUa.port} SIP/2\\.0`), 'sent to the supervisor\'s Contact, not to the Refer-To (Parley)');
      const bLeg = header(inviteB, 'Call-ID');
      assert.equal(header(replacing, 'Replaces'), `${bLeg};to-tag=sup1;from-tag=${tagOf(header(inviteB, 'From'))}`, 'its Replaces names the supervisor\'s dialog of B, its own tag as to-tag');
      assert.notEqual(header(replacing, 'Call-ID'), bLeg);
      assert.match(header(replacing, 'From'), /^<sip:adv@127\.0\.0\.1>/, 'from the customer');
      assert.match(header(replacing, 'Referred-By'), /^<sip:agent@127\.0\.0\.1:\d+>/);
      supUa.send(p.sipPort, responseTo(replacing, '200 OK', 'sup2', sup2.sdp(), supUa.port));
      await supUa.nextMatching(/^ACK /, 10_000, header(replacing, 'Call-ID'));
      sup2.start({ kind: 'tone', freq: SUPERVISOR_HZ, amplitude: 8000 });
      sup.stopSending();
      // The agent is told (NOTIFY 200) and hangs A up.
      await agent.toldDone();
      assert.match(bodyOf(agent.notifies[0]!), /^SIP\/2\.0 100 Trying/m);
      agentAUa.send(p.sipPort, calleeRequest(inviteA, 'agentA', 'BYE', 2, agentAUa.port));
      assert.equal(statusOf(await agent.next(/^SIP\/2\.0 /)), 200);
      if (supervisorHangsUp) {
        // As RFC 3891 asks, the supervisor hangs up the dialog it replaced; Parley ends B for the agent.
        supUa.send(p.sipPort, calleeRequest(inviteB, 'sup1', 'BYE', 2, supUa.port));
        assert.equal(statusOf(await supUa.nextMatching(/^SIP\/2\.0 /, 10_000, bLeg)), 200);
      } else await answerBye(supUa, p.sipPort, bLeg);
      await answerBye(agentBUa, p.sipPort, b.callId);
      await bEnded;

      // The customer and the supervisor hear each other.
      const after = await comesToHear(customer, SUPERVISOR_HZ, customer.received.length);
      assert.ok(after.ok, `the customer hears the supervisor: ${after.detail}`);
      const heard = await comesToHear(sup2, CUSTOMER_HZ, 0);
      assert.ok(heard.ok, `the supervisor hears the customer: ${heard.detail}`);
      assert.deepEqual([...p.app.calls!.active.keys()], [a.callId], 'A goes on, B is over');

      // The customer hangs up: the supervisor's new dialog gets the BYE.
      a.cseq++;
      a.send('BYE');
      assert.equal(statusOf(await a.finalTo(`${a.cseq} BYE`)), 200);
      await answerBye(supUa, p.sipPort, header(replacing, 'Call-ID'));
      await aEnded;
      await assertNothingLeft(p);

      const meta = await waitFor('A\'s closed recording', () => finalSidecars(p.recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === a.callId)), 10_000);
      const legs = meta.legs as Array<{ id: string; callId: string; stems: Array<{ file: string }> }>;
      assert.deepEqual(legs.map((l) => l.id).sort(), ['callee', 'callee-2', 'caller'], 'the customer, the agent and the supervisor');
      const transfers = meta.transfers as Array<{ event: string; leg: string; newLeg?: string; consultation?: string }>;
      assert.deepEqual(transfers.map((t) => [t.event, t.leg, t.newLeg ?? null, t.consultation ?? null]), [
        ['asked', 'callee', null, b.callId],
        ['connected', 'callee', 'callee-2', null],
      ], 'the sidecar lists the transfer and the consultation call it completed');
      assert.equal(legs.find((l) => l.id === 'callee-2')!.callId, header(replacing, 'Call-ID'));
      const stem = readWavFile(join(p.recordingDir, legs.find((l) => l.id === 'callee-2')!.stems[0]!.file));
      const q = purity(stem.samples, stem.sampleRate, SUPERVISOR_HZ, 0, stem.samples.length);
      assert.ok(q > 0.3, `the supervisor's stem holds its voice (${SUPERVISOR_HZ} Hz purity ${q.toFixed(2)})`);
    } finally {
      agent.close();
      for (const ua of [customerUa, agentAUa, agentBUa, supUa]) ua.close();
      for (const r of [customer, agentA, agentB, sup, sup2]) await r.close();
    }
  }
}

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
import { answerBye, bodyOf, okTo, RawDialog, RECORDED_BRIDGE_YAML, rawParleyPerSuite, responseTo, statusOf } from './raw-dialog.ts';

const CUSTOMER_HZ = 1000;
const AGENT_HZ = 600;
const SUPERVISOR_HZ = 1400;

/** A request of the dialog Parley's INVITE `invite` made, from its callee (tag `tag`): no body; `extra` header lines. */
function fromCallee(invite: string, tag: string, method: string, seq: number, port: number, extra: string[] = []): string {
  return inDialogFrom(invite, tag, method, seq, port, contactUri(invite), 'x', '').replace(/\r\nContent-Type: x/, extra.map((l) => `\r\n${l}`).join(''));
}

/** The agent's phone in call A: answers Parley's NOTIFYs (200) and keeps them; hands on everything else. */
class AgentPhone {
  readonly notifies: string[] = [];
  private readonly others: string[] = [];
  private closed = false;

  constructor(
    readonly ua: RawSipClient,
    private readonly sipPort: number,
  ) {
    void this.pump();
  }

  private async pump(): Promise<void> {
    while (!this.closed) {
      const m = await this.ua.next(500).catch(() => null);
      if (m === null) continue;
      if (/^NOTIFY /.test(m)) {
        this.notifies.push(m);
        this.ua.send(this.sipPort, okTo(m));
      } else this.others.push(m);
    }
  }

  /** The next message other than a NOTIFY whose start line matches `re`. */
  async next(re: RegExp, ms = 15_000): Promise<string> {
    return waitFor(`the agent gets ${re}`, () => {
      const i = this.others.findIndex((m) => re.test(m.split('\r\n')[0]!));
      return i < 0 ? undefined : this.others.splice(i, 1)[0];
    }, ms);
  }

  close(): void {
    this.closed = true;
  }
}

describe('an attended transfer whose consultation call went through Parley too', () => {
  const parley = rawParleyPerSuite(RECORDED_BRIDGE_YAML);

  it('Parley joins its two calls: the supervisor replaces its consultation dialog, the customer is connected to it, the consultation call ends, the recording goes on', async () => {
    await attendedTransfer(parley(), true);
  });

  it('a supervisor that keeps its replaced dialog: Parley ends the consultation call itself (BYE to both of its parties)', async () => {
    await attendedTransfer(parley(), false);
  });
});

/** An INVITE from `ua` to `ruri` with `Replaces` (and `Require: replaces`), offering `sdp`. */
function replacingInvite(ua: RawSipClient, ruri: string, callId: string, replaces: string, sdp: string): string {
  return [
    `INVITE ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${ua.port};branch=z9hG4bK-repl-${callId.replace(/\W/g, '')}`,
    'Max-Forwards: 70',
    `From: <sip:sup@127.0.0.1:${ua.port}>;tag=sup-new`,
    `To: <${ruri}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:sup@127.0.0.1:${ua.port}>`,
    `Replaces: ${replaces}`,
    'Require: replaces',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

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
      const a = new RawDialog(customerUa, p.sipPort, 'customer-replaced', 'agent', `sip:agent@127.0.0.1:${agentUa.port}`);
      const aEnded = callEnd(p, a.callId, 60_000);
      a.send('INVITE', customer.sdp());
      const okA = await a.final(15_000);
      assert.equal(statusOf(okA), 200, okA);
      a.confirm(okA);
      a.send('ACK', '', 1);
      customer.useRemoteSdp(bodyOf(okA));
      customer.start({ kind: 'tone', freq: CUSTOMER_HZ, amplitude: 8000 });
      const inviteA = await agentUa.nextMatching(/^INVITE /, 15_000);
      agentUa.send(p.sipPort, responseTo(inviteA, '200 OK', 'agentA', agentA.sdp(), agentUa.port));
      await agentUa.nextMatching(/^ACK /, 10_000);
      agentA.start({ kind: 'tone', freq: AGENT_HZ, amplitude: 8000 });
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
      const a = new RawDialog(agentUa, p.sipPort, 'agent-out', 'cust', `sip:cust@127.0.0.1:${customerUa.port}`);
      const aEnded = callEnd(p, a.callId, 60_000);
      a.send('INVITE', agent.sdp());
      const okA = await a.final(15_000);
      assert.equal(statusOf(okA), 200, okA);
      a.confirm(okA);
      a.send('ACK', '', 1);
      agent.useRemoteSdp(bodyOf(okA));
      agent.start({ kind: 'tone', freq: AGENT_HZ, amplitude: 8000 });
      const toCustomer = await customerUa.nextMatching(/^INVITE /, 15_000);
      customerUa.send(p.sipPort, responseTo(toCustomer, '200 OK', 'cust1', customer.sdp(), customerUa.port));
      await customerUa.nextMatching(/^ACK /, 10_000);
      customer.start({ kind: 'tone', freq: CUSTOMER_HZ, amplitude: 8000 });
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
      customerUa.send(p.sipPort, fromCallee(toCustomer, 'cust1', 'BYE', 2, customerUa.port));
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
    const agent = new AgentPhone(agentAUa, p.sipPort);
    try {
      // B, the consultation call: the agent calls the supervisor through Parley.
      const b = new RawDialog(agentBUa, p.sipPort, `consult-${name}`, 'sup', `sip:sup@127.0.0.1:${supUa.port}`);
      const bEnded = callEnd(p, b.callId, 60_000);
      b.send('INVITE', agentB.sdp());
      const inviteB = await supUa.nextMatching(/^INVITE /, 15_000);
      supUa.send(p.sipPort, responseTo(inviteB, '200 OK', 'sup1', sup.sdp(), supUa.port));
      await supUa.nextMatching(/^ACK /, 10_000);
      const okB = await b.final(15_000);
      assert.equal(statusOf(okB), 200, okB);
      b.confirm(okB);
      b.send('ACK', '', 1);
      agentB.useRemoteSdp(bodyOf(okB));
      agentB.start({ kind: 'tone', freq: AGENT_HZ, amplitude: 8000 });
      sup.start({ kind: 'tone', freq: SUPERVISOR_HZ, amplitude: 8000 });
      const consulted = await comesToHear(agentB, SUPERVISOR_HZ, 0);
      assert.ok(consulted.ok, `the agent hears the supervisor in B: ${consulted.detail}`);

      // A: the customer's call, bridged to the agent.
      const a = new RawDialog(customerUa, p.sipPort, `customer-${name}`, 'agent', `sip:agent@127.0.0.1:${agentAUa.port}`);
      const aEnded = callEnd(p, a.callId, 60_000);
      a.send('INVITE', customer.sdp());
      const okA = await a.final(15_000);
      assert.equal(statusOf(okA), 200, okA);
      a.confirm(okA);
      a.send('ACK', '', 1);
      customer.useRemoteSdp(bodyOf(okA));
      customer.start({ kind: 'tone', freq: CUSTOMER_HZ, amplitude: 8000 });
      const inviteA = await agent.next(/^INVITE /);
      agentAUa.send(p.sipPort, responseTo(inviteA, '200 OK', 'agentA', agentA.sdp(), agentAUa.port));
      await agent.next(/^ACK /);
      agentA.start({ kind: 'tone', freq: AGENT_HZ, amplitude: 8000 });
      const before = await comesToHear(customer, AGENT_HZ, 0);
      assert.ok(before.ok, `the customer hears the agent: ${before.detail}`);

      // The agent transfers A to the supervisor, replacing its consultation call: as phones do, the
      // Refer-To is B's remote target (Parley's Contact) and the Replaces names the agent's dialog of B.
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      agentAUa.send(p.sipPort, fromCallee(inviteA, 'agentA', 'REFER', 1, agentAUa.port, [
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
      await waitFor('NOTIFY 200 OK to the agent', () => agent.notifies.some((n) => /^SIP\/2\.0 200 OK/m.test(bodyOf(n))) || undefined, 10_000);
      assert.match(bodyOf(agent.notifies[0]!), /^SIP\/2\.0 100 Trying/m);
      agentAUa.send(p.sipPort, fromCallee(inviteA, 'agentA', 'BYE', 2, agentAUa.port));
      assert.equal(statusOf(await agent.next(/^SIP\/2\.0 /)), 200);
      if (supervisorHangsUp) {
        // As RFC 3891 asks, the supervisor hangs up the dialog it replaced; Parley ends B for the agent.
        supUa.send(p.sipPort, fromCallee(inviteB, 'sup1', 'BYE', 2, supUa.port));
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

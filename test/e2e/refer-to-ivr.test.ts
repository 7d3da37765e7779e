// An attended transfer into Parley's own IVR, the way phones do it: a customer's call is bridged
// through Parley to an agent; the agent calls the payment IVR (also Parley: the consultation
// call), then REFERs the customer's call with a Refer-To of the IVR call's Contact (Parley) and a
// Replaces naming its own dialog of the IVR call. Parley holds that dialog itself, so there is
// no other party to send the INVITE to: it sends it to itself (consultation.ts), and the
// customer's leg takes the agent's place in the running menu (caller-replacing.ts). The agent
// hears NOTIFY 200 and gets its BYE from the IVR call; the customer's digit is the menu's (its
// branch plays DTMF tones the customer hears), the IVR's recording goes on with the customer's
// audio in its caller stem, and the IVR hanging up ends the customer's call. Raw SIP, real RTP.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readWavFile, toneAmplitude } from '../helpers/audio-analysis.ts';
import { header, RawSipClient, tagOf } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, calleeRequest, RawDialog, rawBridgedCall, rawParleyPerSuite, statusOf, TransferorPhone } from './raw-dialog.ts';

const CUSTOMER_HZ = 1000;
const AGENT_HZ = 600;

const YAML = `
routing:
  rules:
    - { name: ivr, match: { method: INVITE, to: "sip:ivr@*" }, actions: [{ app: ivr }] }
    - { name: xfer, match: { method: INVITE, media: audio }, actions: [{ app: xfer }] }
flows:
  ivr:
    - answer
    - record: { action: start }
    - menu:
        prompt: { tone: "silence:200" }
        branches: { "5": five }
        retries: 0
        timeout: 30
        fallback: none
  five:
    - play: { tone: "dtmf:1111111111" }
    - hangup
  none:
    - hangup
  xfer:
    - answer
    - record: { action: start }
    - bridge: { ringTimeout: 10 }
`;

describe('an attended transfer into Parley\'s own IVR (REFER with Replaces naming the agent\'s IVR call)', () => {
  const parley = rawParleyPerSuite(YAML);

  it("the customer takes the agent's place in the menu: NOTIFY 200, the agent's IVR call gets a BYE, the customer's digit is the menu's and it hears the branch, the IVR's recording goes on with the customer", async () => {
    const p = parley();
    const customerUa = await RawSipClient.open();
    const agentAUa = await RawSipClient.open();
    const agentBUa = await RawSipClient.open();
    const agent = new TransferorPhone(agentAUa);
    const customer = await new RtpPeer({ codec: 'PCMU' }).bind();
    const agentA = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const agentB = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      // B: the agent's consultation call to the IVR.
      const b = new RawDialog(agentBUa, p.sipPort, 'consult-ivr', 'ivr');
      const okB = await b.invite(agentB.sdp());
      assert.equal(statusOf(okB), 200, okB);
      agentB.useRemoteSdp(bodyOf(okB));
      agentB.start({ kind: 'tone', freq: AGENT_HZ, amplitude: 8000 });
      await agentB.waitForPackets(40);

      // A: the customer's call, bridged to the agent.
      const { c: a, invite: inviteA } = await rawBridgedCall({ sipPort: p.sipPort, name: 'customer-to-ivr', user: 'agent', callerUa: customerUa, calleeUa: agentAUa, caller: customer, callee: agentA, callerHz: CUSTOMER_HZ, calleeHz: AGENT_HZ, calleeTag: 'agentA', nextFromCallee: (re) => agent.next(re) });
      assert.equal(p.app.calls!.active.size, 2);

      // The agent transfers A, replacing its IVR call: the Refer-To is B's remote target (Parley), the Replaces names its dialog of B.
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      agentAUa.send(p.sipPort, calleeRequest(inviteA, 'agentA', 'REFER', 1, agentAUa.port, [
        `Refer-To: <${b.contact}?Replaces=${encodeURIComponent(replaces)}>`,
        `Referred-By: <sip:agent@127.0.0.1:${agentAUa.port}>`,
        `Contact: <sip:agent@127.0.0.1:${agentAUa.port}>`,
      ]));
      assert.equal(statusOf(await agent.next(/^SIP\/2\.0 /)), 202, 'the REFER is accepted');
      await agent.toldDone();
      // The IVR call's agent dialog is ended by Parley; the agent hangs its bridged dialog up.
      await answerBye(agentBUa, p.sipPort, b.callId);
      agentB.stopSending();
      agentAUa.send(p.sipPort, calleeRequest(inviteA, 'agentA', 'BYE', 2, agentAUa.port));
      assert.equal(statusOf(await agent.next(/^SIP\/2\.0 /)), 200);
      await new Promise((r) => setTimeout(r, 600));

      // The customer's digit takes the menu's branch: it hears DTMF 1 (697 + 1209 Hz), then the call ends.
      const from = customer.received.length;
      customer.queueDtmf('5', 120);
      await waitFor("Parley's BYE to the customer", async () => {
        const m = await customerUa.nextMatching(/^BYE /, 15_000, a.callId);
        customerUa.send(p.sipPort, `SIP/2.0 200 OK\r\n${m.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
        return true;
      }, 20_000);
      const pcm = customer.decoded(from);
      const blocks: number[] = [];
      for (let s = 0; s + 800 <= pcm.length; s += 800) blocks.push(toneAmplitude(pcm, 8000, 1209, s, 800));
      const loud = blocks.filter((x) => x > 0.05).length;
      assert.ok(loud >= 8, `the customer hears the branch its digit chose: ${loud} blocks of 1209 Hz (${blocks.map((x) => x.toFixed(2)).join(' ')})`);
      await waitFor('both calls ended', () => p.app.calls!.active.size === 0, 10_000);
      await assertNothingLeft(p);

      // The IVR call's recording: the agent's tone in the caller stem first, the customer's later; a `replaced` note.
      const meta = await waitFor("the IVR call's closed recording", () => finalSidecars(p.recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === b.callId)), 15_000);
      assert.deepEqual((meta.transfers as Array<{ event: string; leg: string }>).map((t) => [t.event, t.leg]), [['replaced', 'caller']]);
      const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
      const stem = readWavFile(join(p.recordingDir, leg.stems[0]!.file));
      const amp = (hz: number, atSec: number): number => toneAmplitude(stem.samples, stem.sampleRate, hz, Math.floor(atSec * stem.sampleRate), stem.sampleRate / 5);
      assert.ok(amp(AGENT_HZ, 0.3) > 0.05 && amp(CUSTOMER_HZ, 0.3) < 0.02, `the agent first: ${amp(AGENT_HZ, 0.3).toFixed(3)} / ${amp(CUSTOMER_HZ, 0.3).toFixed(3)}`);
      const late = stem.samples.length / stem.sampleRate - 2.6;
      assert.ok(amp(CUSTOMER_HZ, late) > 0.05, `the customer later: ${amp(CUSTOMER_HZ, late).toFixed(3)} / ${amp(AGENT_HZ, late).toFixed(3)}`);
      // The customer's call lists the transfer with its consultation call.
      const metaA = await waitFor("the customer call's closed recording", () => finalSidecars(p.recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === a.callId)), 15_000);
      const transfers = metaA.transfers as Array<{ event: string; consultation?: string }>;
      assert.deepEqual(transfers.map((t) => [t.event, t.consultation ?? null]), [['asked', b.callId], ['connected', null]]);
    } finally {
      agent.close();
      for (const ua of [customerUa, agentAUa, agentBUa]) ua.close();
      for (const r of [customer, agentA, agentB]) await r.close();
    }
  });
});

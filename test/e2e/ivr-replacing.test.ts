// An attended transfer into an IVR: an agent who called Parley's IVR (a menu, recorded)
// transfers its own caller there, and the caller's phone sends Parley an INVITE with Replaces
// naming the agent's dialog (RFC 3891). The new party takes the caller's place in the running
// flow: 200, the agent gets a BYE, the new party's digit is the menu's (its branch plays DTMF
// tones the new party hears, then hangs up), the recording's caller stem holds the agent's
// tone, then the new party's, and a `replaced` note. Wrong tags get 481, no offer 488, and the
// agent stays; a replacing INVITE cancelled before the answer leaves the agent its place and
// its media. The agent holds the IVR before it transfers, as phones do. Raw SIP, real RTP
// peers, tones heard and recorded.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readWavFile, toneAmplitude } from '../helpers/audio-analysis.ts';
import { contactUri, inDialogFrom, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, flowYaml, RawDialog, rawParleyPerSuite, replacingInvite, statusOf } from './raw-dialog.ts';

const AGENT_HZ = 1000;
const CUSTOMER_HZ = 1400;

/** The agent's and the new party's SIP clients and RTP peers (PCMU), and a close for all four. */
async function parties(): Promise<{ agentUa: RawSipClient; agent: RtpPeer; customerUa: RawSipClient; customer: RtpPeer; close: () => Promise<void> }> {
  const agentUa = await RawSipClient.open();
  const agent = await new RtpPeer({ codec: 'PCMU' }).bind();
  const customerUa = await RawSipClient.open();
  const customer = await new RtpPeer({ codec: 'PCMU' }).bind();
  const close = async (): Promise<void> => {
    agentUa.close();
    customerUa.close();
    await agent.close();
    await customer.close();
  };
  return { agentUa, agent, customerUa, customer, close };
}

/** The agent calls the IVR (answered 200) and sends its tone: the dialog, once 40 packets came back. */
async function agentInMenu(sipPort: number, ua: RawSipClient, agent: RtpPeer, name: string): Promise<RawDialog> {
  const d = new RawDialog(ua, sipPort, name, 'ivr');
  const ok = await d.invite(agent.sdp());
  assert.equal(statusOf(ok), 200, ok);
  agent.useRemoteSdp(bodyOf(ok));
  agent.start({ kind: 'tone', freq: AGENT_HZ, amplitude: 8000 });
  await agent.waitForPackets(40);
  return d;
}

/** The menu's branch as `peer` heard it from packet `from` on: DTMF 1's 1209 Hz per 100 ms block (tones 100 ms on, 100 ms off), and how many blocks hold it. */
function branchHeard(peer: RtpPeer, from: number): { loud: number; blocks: string } {
  const pcm = peer.decoded(from);
  const blocks: number[] = [];
  for (let s = 0; s + 800 <= pcm.length; s += 800) blocks.push(toneAmplitude(pcm, 8000, 1209, s, 800));
  return { loud: blocks.filter((a) => a > 0.05).length, blocks: blocks.map((a) => a.toFixed(2)).join(' ') };
}

describe('an INVITE with Replaces naming a caller in an IVR (an attended transfer into a menu)', () => {
  const parley = rawParleyPerSuite(flowYaml('ivr', `    - answer
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
`));

  it("the new party takes the caller's place in the running menu: its digit is the flow's, it hears the branch, the agent gets a BYE, the stem goes on with it; wrong tags 481, no offer 488", async () => {
    const p = parley();
    const { agentUa, agent, customerUa, customer, close } = await parties();
    try {
      const d = await agentInMenu(p.sipPort, agentUa, agent, 'ivr-agent');
      const ruri = `sip:ivr@127.0.0.1:${p.sipPort}`;
      const agentTag = `adv-${process.pid}`;
      // As phones do before a transfer, the agent puts the IVR on hold first: the new party's offer takes it off.
      d.cseq++;
      d.send('INVITE', agent.sdp([], 'sendonly').replace('o=peer 1 1 ', `o=peer 1 ${d.cseq} `));
      const held = await d.finalTo(`${d.cseq} INVITE`);
      assert.equal(statusOf(held), 200, held);
      assert.match(bodyOf(held), /^a=recvonly\r?$/m, 'Parley answers the hold');
      d.send('ACK', '', d.cseq);

      const refusals: [string, string, string, number][] = [
        [`ivr-wrong-${process.pid}`, `${d.callId};to-tag=nope;from-tag=${agentTag}`, customer.sdp(), 481],
        [`ivr-nosdp-${process.pid}`, `${d.callId};to-tag=${d.toTag};from-tag=${agentTag}`, '', 488],
      ];
      for (const [id, replaces, sdp, status] of refusals) {
        customerUa.send(p.sipPort, replacingInvite(customerUa, ruri, id, replaces, sdp));
        const res = await customerUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000, id);
        assert.equal(statusOf(res), status, res);
      }
      assert.equal(p.app.calls!.active.size, 1, 'the agent\'s call goes on');

      const callId = `ivr-repl-${process.pid}`;
      customerUa.send(p.sipPort, replacingInvite(customerUa, ruri, callId, `${d.callId};to-tag=${d.toTag};from-tag=${agentTag}`, customer.sdp()));
      const taken = await customerUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000, callId);
      assert.equal(statusOf(taken), 200, taken);
      customerUa.send(p.sipPort, inDialogFrom(taken, '', 'ACK', 1, customerUa.port, contactUri(taken), 'x', '').replace(/\r\nContent-Type: x/, ''));
      customer.useRemoteSdp(bodyOf(taken));
      customer.start({ kind: 'tone', freq: CUSTOMER_HZ, amplitude: 8000 });
      await answerBye(agentUa, p.sipPort, d.callId);
      agent.stopSending();
      await customer.waitForPackets(40);
      await new Promise((r) => setTimeout(r, 600));

      // The new party's digit takes the menu's branch: it hears DTMF 1 (697 + 1209 Hz), then Parley's BYE.
      const from = customer.received.length;
      customer.queueDtmf('5', 120);
      await answerBye(customerUa, p.sipPort, callId);
      const { loud, blocks } = branchHeard(customer, from);
      assert.ok(loud >= 8, `the new party hears the branch its digit chose: ${loud} blocks of 1209 Hz (${blocks})`);
      await waitFor('the call ended', () => p.app.calls!.active.size === 0, 10_000);
      await assertNothingLeft(p);

      const meta = await waitFor('the closed recording', () => finalSidecars(p.recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === d.callId)), 15_000);
      const transfers = meta.transfers as Array<{ event: string; leg: string; newLeg?: string; target: string }>;
      assert.deepEqual(transfers.map((t) => [t.event, t.leg, t.newLeg, t.target]), [['replaced', 'caller', 'caller', 'sip:sup@127.0.0.1:' + customerUa.port]]);
      const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
      const stem = readWavFile(join(p.recordingDir, leg.stems[0]!.file));
      const rate = stem.sampleRate;
      const second = (hz: number, atSec: number): number => toneAmplitude(stem.samples, rate, hz, Math.floor(atSec * rate), rate / 5);
      // The agent's tone at the start, the new party's later.
      assert.ok(second(AGENT_HZ, 0.3) > 0.05 && second(CUSTOMER_HZ, 0.3) < 0.02, `the agent first: ${second(AGENT_HZ, 0.3).toFixed(3)} / ${second(CUSTOMER_HZ, 0.3).toFixed(3)}`);
      const late = stem.samples.length / rate - 0.6;
      assert.ok(second(CUSTOMER_HZ, late) > 0.05 && second(AGENT_HZ, late) < 0.02, `the new party later: ${second(CUSTOMER_HZ, late).toFixed(3)} / ${second(AGENT_HZ, late).toFixed(3)}`);
    } finally {
      await close();
    }
  });

  it("a replacing INVITE cancelled before Parley answers it: 487, and the caller keeps its place: it hears the menu again, its digit is the flow's, no `replaced` note", async () => {
    const p = parley();
    const { agentUa, agent, customerUa, customer, close } = await parties();
    try {
      const d = await agentInMenu(p.sipPort, agentUa, agent, 'ivr-cancelled');
      const ruri = `sip:ivr@127.0.0.1:${p.sipPort}`;
      const callId = `ivr-cancel-${process.pid}`;
      const invite = replacingInvite(customerUa, ruri, callId, `${d.callId};to-tag=${d.toTag};from-tag=adv-${process.pid}`, customer.sdp());
      // The CANCEL right behind it (same branch, From, To, Call-ID, CSeq number: RFC 3261 §9.1), before Parley's answer.
      const head = (name: string): string => new RegExp(`^${name}: .*$`, 'm').exec(invite)![0];
      const cancel = [`CANCEL ${ruri} SIP/2.0`, head('Via'), 'Max-Forwards: 70', head('From'), head('To'), head('Call-ID'), 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n');
      customerUa.send(p.sipPort, invite);
      customerUa.send(p.sipPort, cancel);
      let final = '';
      while (!/^CSeq:\s*1 INVITE\s*$/im.test(final)) final = await customerUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000, callId);
      assert.equal(statusOf(final), 487, final);
      customerUa.send(p.sipPort, inDialogFrom(final, '', 'ACK', 1, customerUa.port, ruri, 'x', '').replace(/\r\nContent-Type: x/, ''));

      // The agent's media is its own again: Parley sends to it, and its digit takes the menu's branch (DTMF 1: 697 + 1209 Hz).
      await new Promise((r) => setTimeout(r, 300));
      const from = agent.received.length;
      const toCustomer = customer.received.length;
      agent.queueDtmf('5', 120);
      await answerBye(agentUa, p.sipPort, d.callId);
      const { loud, blocks } = branchHeard(agent, from);
      assert.ok(loud >= 8, `the agent hears the branch its digit chose: ${loud} blocks of 1209 Hz (${blocks})`);
      assert.equal(customer.received.length, toCustomer, 'nothing more is sent to the party whose INVITE was cancelled');
      await waitFor('the call ended', () => p.app.calls!.active.size === 0, 10_000);
      await assertNothingLeft(p);
      const meta = await waitFor('the closed recording', () => finalSidecars(p.recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === d.callId)), 15_000);
      assert.equal(meta.transfers, undefined, 'no `replaced` note');
      const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
      const stem = readWavFile(join(p.recordingDir, leg.stems[0]!.file));
      // A second before the end: the branch's 2 s of tones, after the CANCEL and the digit (the
      // recording's end holds the last of the agent's jitter buffer too, so not counted from there).
      const at = Math.floor((stem.samples.length / stem.sampleRate - 1) * stem.sampleRate);
      const amp = toneAmplitude(stem.samples, stem.sampleRate, AGENT_HZ, at, stem.sampleRate / 5);
      assert.ok(amp > 0.05, `the agent's tone is recorded after the CANCEL: ${amp.toFixed(3)}`);
    } finally {
      await close();
    }
  });

  it('a party that took the caller\'s place can itself be replaced (its dialog is the caller\'s now); the last one\'s BYE ends the call', async () => {
    const p = parley();
    const uas = await Promise.all([0, 1, 2].map(() => RawSipClient.open()));
    const phones = await Promise.all([1000, 1400, 1700].map(async (hz) => ({ hz, peer: await new RtpPeer({ codec: 'PCMU' }).bind() })));
    try {
      const d = new RawDialog(uas[0]!, p.sipPort, 'ivr-chain', 'ivr');
      const ok = await d.invite(phones[0]!.peer.sdp());
      assert.equal(statusOf(ok), 200, ok);
      phones[0]!.peer.useRemoteSdp(bodyOf(ok));
      phones[0]!.peer.start({ kind: 'tone', freq: phones[0]!.hz, amplitude: 8000 });
      await phones[0]!.peer.waitForPackets(40);
      const ruri = `sip:ivr@127.0.0.1:${p.sipPort}`;
      // Who holds the caller's place: its Call-ID, Parley's tag and its own.
      let holder = { ua: uas[0]!, callId: d.callId, toTag: d.toTag, fromTag: `adv-${process.pid}`, ok };
      for (const i of [1, 2]) {
        const callId = `ivr-chain-${i}-${process.pid}`;
        uas[i]!.send(p.sipPort, replacingInvite(uas[i]!, ruri, callId, `${holder.callId};to-tag=${holder.toTag};from-tag=${holder.fromTag}`, phones[i]!.peer.sdp()));
        const taken = await uas[i]!.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000, callId);
        assert.equal(statusOf(taken), 200, `party ${i}: ${taken}`);
        uas[i]!.send(p.sipPort, inDialogFrom(taken, '', 'ACK', 1, uas[i]!.port, contactUri(taken), 'x', '').replace(/\r\nContent-Type: x/, ''));
        phones[i]!.peer.useRemoteSdp(bodyOf(taken));
        phones[i]!.peer.start({ kind: 'tone', freq: phones[i]!.hz, amplitude: 8000 });
        await answerBye(holder.ua, p.sipPort, holder.callId);
        phones[i - 1]!.peer.stopSending();
        await phones[i]!.peer.waitForPackets(phones[i]!.peer.received.length + 40);
        holder = { ua: uas[i]!, callId, toTag: /^To:.*;tag=([^;\s>]+)/m.exec(taken)![1]!, fromTag: 'sup-new', ok: taken };
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(p.app.calls!.active.size, 1, 'one call all along');
      // The last party hangs up: the call ends.
      const last = holder.ok;
      uas[2]!.send(p.sipPort, inDialogFrom(last, '', 'BYE', 2, uas[2]!.port, contactUri(last), 'x', '').replace(/\r\nContent-Type: x/, ''));
      assert.equal(statusOf(await uas[2]!.nextMatching(/^SIP\/2\.0 \d+ /, 10_000, holder.callId)), 200);
      await waitFor('the call ended', () => p.app.calls!.active.size === 0, 10_000);
      await assertNothingLeft(p);
      const meta = await waitFor('the closed recording', () => finalSidecars(p.recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === d.callId)), 15_000);
      const transfers = meta.transfers as Array<{ event: string; target: string }>;
      assert.deepEqual(transfers.map((t) => [t.event, t.target]), [['replaced', `sip:sup@127.0.0.1:${uas[1]!.port}`], ['replaced', `sip:sup@127.0.0.1:${uas[2]!.port}`]]);
      const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
      const stem = readWavFile(join(p.recordingDir, leg.stems[0]!.file));
      const at = Math.floor((stem.samples.length / stem.sampleRate - 0.4) * stem.sampleRate);
      const amp = (hz: number): number => toneAmplitude(stem.samples, stem.sampleRate, hz, at, stem.sampleRate / 5);
      assert.ok(amp(1700) > 0.05 && amp(1400) < 0.02 && amp(1000) < 0.02, `the last party at the end of the stem: ${[1000, 1400, 1700].map((hz) => amp(hz).toFixed(3)).join(' / ')}`);
    } finally {
      for (const u of uas) u.close();
      for (const ph of phones) await ph.peer.close();
    }
  });
});

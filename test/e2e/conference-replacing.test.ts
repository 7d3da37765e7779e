// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// An attended transfer into a conference: an agent in a room (its consultation call) transfers
// its customer there, and the customer's phone sends Parley an INVITE with Replaces naming the
// agent's dialog (RFC 3891). The customer takes the agent's place in the room (both ways heard),
// the agent gets a BYE, the roster shows the customer, the agent's call and its recording go on
// with the customer until the customer hangs up. The party in the agent's place can itself be
// replaced (a chain of transfers), and an agent that held the room before it transferred (as
// phones do) leaves no hold behind: the room hears its replacement. Raw SIP members, real RTP
// peers, tones heard.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { contactUri, inDialogFrom, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars, type Sidecar } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { comesToHearTone, join, reoffer, type Joined } from './conference-members.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, rawParleyPerSuite, replacingInvite, statusOf } from './raw-dialog.ts';

const STAYER_HZ = 600;
const AGENT_HZ = 1000;
const CUSTOMER_HZ = 1400;
const THIRD_HZ = 1700;

/**
 * The party holding the agent's place (its 200 `ok`, dialog `callId`, on `ua`) hangs up: the
 * agent's call ends; then the stayer leaves and the room closes, nothing left. The agent call's
 * final sidecar (found by the holder's Call-ID).
 */
async function holderLeavesThenStayer(p: RunningParley, ua: RawSipClient, ok: string, callId: string, stayer: Joined): Promise<Sidecar> {
  ua.send(p.sipPort, inDialogFrom(ok, '', 'BYE', 2, ua.port, contactUri(ok), 'x', '').replace(/\r\nContent-Type: x/, ''));
  assert.equal(statusOf(await ua.nextMatching(/^SIP\/2\.0 \d+ /, 10_000, callId)), 200);
  await waitFor('the agent\'s call ended', () => p.app.calls!.active.size === 1, 10_000);
  stayer.d.cseq++;
  stayer.d.send('BYE');
  await stayer.d.finalTo(`${stayer.d.cseq} BYE`);
  await waitFor('the room closed', async () => (await p.app.conferences!.get('repl')) === undefined, 10_000);
  await assertNothingLeft(p);
  return waitFor("the agent call's closed recording", () => finalSidecars(p.recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === callId)), 10_000);
}

describe('an INVITE with Replaces naming a conference member (an attended transfer into a room)', () => {
  const parley = rawParleyPerSuite(`
routing:
  rules:
    - { name: room, match: { method: INVITE, to: "sip:room@*" }, actions: [{ app: conf }] }
flows:
  conf:
    - answer
    - record: { action: start }
    - conference: { room: repl }
`);

  it("the customer takes the agent's place: 200, the agent gets a BYE, the room and the customer hear each other, the roster shows the customer, the recording goes on; wrong tags get 481, no usable offer 488", async () => {
    const p = parley();
    const stayer = await join(p, 'stayer', STAYER_HZ);
    const agent = await join(p, 'agent', AGENT_HZ);
    const customerUa = await RawSipClient.open();
    const customer = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      assert.ok((await comesToHearTone(stayer, AGENT_HZ)).ok, 'the stayer hears the agent first');
      const ruri = `sip:room@127.0.0.1:${p.sipPort}`;
      const agentTag = `adv-${process.pid}`;
      const wrong = `repl-wrong-${process.pid}`;
      customerUa.send(p.sipPort, replacingInvite(customerUa, ruri, wrong, `${agent.d.callId};to-tag=nope;from-tag=${agentTag}`, customer.sdp()));
      assert.equal(statusOf(await customerUa.nextMatching(/^SIP\/2\.0 [3-6]\d\d /, 10_000, wrong)), 481, 'tags that are not the dialog\'s');

      // No offer, or one Parley cannot use: 488 with a Warning, the agent still in the room.
      const unusable = customer.sdp().replace(/^m=audio (\d+) RTP\/AVP .*$/m, 'm=audio $1 RTP/AVP 98').replace(/^a=rtpmap:.*$/gm, '') + 'a=rtpmap:98 X-NOTHING/8000\r\n';
      for (const [n, sdp] of [['none', ''], ['unusable', unusable]] as const) {
        const id = `repl-${n}-${process.pid}`;
        customerUa.send(p.sipPort, replacingInvite(customerUa, ruri, id, `${agent.d.callId};to-tag=${agent.d.toTag};from-tag=${agentTag}`, sdp));
        const refused = await customerUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000, id);
        assert.equal(statusOf(refused), 488, refused);
        assert.match(refused, /^Warning: 3\d\d parley /m, `a Warning says why (${n})`);
        customerUa.send(p.sipPort, [`ACK ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${customerUa.port};branch=z9hG4bK-repl-${id.replace(/\W/g, '')}-1`, 'Max-Forwards: 70', `From: <sip:sup@127.0.0.1:${customerUa.port}>;tag=sup-new`, `To: ${/^To: (.*)$/m.exec(refused)![1]!.trim()}`, `Call-ID: ${id}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'));
      }
      assert.ok((await comesToHearTone(stayer, AGENT_HZ)).ok, 'the stayer still hears the agent');

      const callId = `repl-conf-${process.pid}`;
      customerUa.send(p.sipPort, replacingInvite(customerUa, ruri, callId, `${agent.d.callId};to-tag=${agent.d.toTag};from-tag=${agentTag}`, customer.sdp()));
      const ok = await customerUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000, callId);
      assert.equal(statusOf(ok), 200, ok);
      customerUa.send(p.sipPort, inDialogFrom(ok, '', 'ACK', 1, customerUa.port, contactUri(ok), 'x', '').replace(/\r\nContent-Type: x/, ''));
      customer.useRemoteSdp(bodyOf(ok));
      customer.start({ kind: 'tone', freq: CUSTOMER_HZ, amplitude: 8000 });
      await answerBye(agent.ua, p.sipPort, agent.d.callId);
      agent.phone.stopSending();

      const heard = await comesToHearTone(stayer, CUSTOMER_HZ);
      assert.ok(heard.ok, `the stayer hears the customer (${heard.amp.toFixed(3)})`);
      const back = await comesToHear(customer, STAYER_HZ, 0);
      assert.ok(back.ok, `the customer hears the stayer: ${back.detail}`);
      const conf = await p.app.conferences!.get('repl');
      assert.deepEqual(conf!.roster.visible.map((e) => e.uri.replace(/:\d+$/, '')).sort(), ['sip:stayer@127.0.0.1', 'sip:sup@127.0.0.1'], 'the roster shows the customer in the agent\'s place');
      assert.equal(p.app.calls!.active.size, 2, 'no call was made of the INVITE: the agent\'s call goes on');

      // The customer hangs up: the agent's call ends; the stayer is alone, then leaves too.
      const meta = await holderLeavesThenStayer(p, customerUa, ok, callId, stayer);
      const legs = meta.legs as Array<{ id: string; callId: string }>;
      assert.deepEqual(legs.map((l) => l.id).sort(), ['caller', 'caller-2', 'conf-repl'], 'the agent, the customer in its place, the room');
      const transfers = meta.transfers as Array<{ event: string; leg: string; newLeg?: string }>;
      assert.deepEqual(transfers.map((t) => [t.event, t.leg, t.newLeg]), [['replaced', 'caller', 'caller-2']]);
    } finally {
      for (const m of [stayer, agent]) {
        m.ua.close();
        await m.phone.close();
      }
      customerUa.close();
      await customer.close();
    }
  });

  it("a chain: the agent holds, then the customer takes its place, then a third party the customer's; each is heard in the room and hears it, each one replaced gets a BYE, a dialog replaced already is refused (403)", async () => {
    const p = parley();
    const stayer = await join(p, 'stayer2', STAYER_HZ);
    const agent = await join(p, 'agent2', AGENT_HZ);
    const uas = await Promise.all([0, 1].map(() => RawSipClient.open()));
    const phones = await Promise.all([CUSTOMER_HZ, THIRD_HZ].map(() => new RtpPeer({ codec: 'PCMU' }).bind()));
    try {
      assert.ok((await comesToHearTone(stayer, AGENT_HZ)).ok, 'the stayer hears the agent first');
      // As phones do before a transfer, the agent holds the room.
      assert.match(bodyOf(await reoffer(agent, 'sendonly')), /^a=recvonly\r?$/m);
      const ruri = `sip:room@127.0.0.1:${p.sipPort}`;
      let holder = { ua: agent.ua, callId: agent.d.callId, toTag: agent.d.toTag, fromTag: `adv-${process.pid}`, ok: '' };
      const oks: string[] = [];
      for (const [i, hz] of [[0, CUSTOMER_HZ], [1, THIRD_HZ]] as const) {
        const callId = `repl-chain-${i}-${process.pid}`;
        uas[i]!.send(p.sipPort, replacingInvite(uas[i]!, ruri, callId, `${holder.callId};to-tag=${holder.toTag};from-tag=${holder.fromTag}`, phones[i]!.sdp()));
        const ok = await uas[i]!.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000, callId);
        assert.equal(statusOf(ok), 200, `party ${i + 1}: ${ok}`);
        uas[i]!.send(p.sipPort, inDialogFrom(ok, '', 'ACK', 1, uas[i]!.port, contactUri(ok), 'x', '').replace(/\r\nContent-Type: x/, ''));
        phones[i]!.useRemoteSdp(bodyOf(ok));
        phones[i]!.start({ kind: 'tone', freq: hz, amplitude: 8000 });
        // The one it replaced gets Parley's BYE.
        await answerBye(holder.ua, p.sipPort, holder.callId);
        (i === 0 ? agent.phone : phones[0]!).stopSending();
        const heard = await comesToHearTone(stayer, hz);
        assert.ok(heard.ok, `the stayer hears party ${i + 1} in the place (${heard.amp.toFixed(3)})`);
        const back = await comesToHear(phones[i]!, STAYER_HZ, 0);
        assert.ok(back.ok, `party ${i + 1} hears the stayer: ${back.detail}`);
        oks.push(ok);
        holder = { ua: uas[i]!, callId, toTag: /^To:.*;tag=([^;\s>]+)/m.exec(ok)![1]!, fromTag: 'sup-new', ok };
      }
      // The agent's dialog no longer holds the place.
      const late = `repl-late-${process.pid}`;
      uas[0]!.send(p.sipPort, replacingInvite(uas[0]!, ruri, late, `${agent.d.callId};to-tag=${agent.d.toTag};from-tag=adv-${process.pid}`, phones[0]!.sdp()));
      const refused = await uas[0]!.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000, late);
      assert.equal(statusOf(refused), 403, refused);
      uas[0]!.send(p.sipPort, [`ACK ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${uas[0]!.port};branch=z9hG4bK-repl-${late.replace(/\W/g, '')}-1`, 'Max-Forwards: 70', `From: <sip:sup@127.0.0.1:${uas[0]!.port}>;tag=sup-new`, `To: ${/^To: (.*)$/m.exec(refused)![1]!.trim()}`, `Call-ID: ${late}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'));
      const conf = await p.app.conferences!.get('repl');
      assert.deepEqual(conf!.roster.visible.map((e) => e.uri.replace(/:\d+$/, '')).sort(), ['sip:stayer2@127.0.0.1', 'sip:sup@127.0.0.1']);
      assert.equal(conf!.roster.visible.find((e) => e.uri.startsWith('sip:sup@'))!.held ?? null, null, 'the place is not on hold');

      // The third party hangs up: the agent's call ends.
      const meta = await holderLeavesThenStayer(p, uas[1]!, holder.ok, holder.callId, stayer);
      assert.deepEqual((meta.legs as Array<{ id: string }>).map((l) => l.id).sort(), ['caller', 'caller-2', 'caller-3', 'conf-repl']);
      assert.deepEqual((meta.transfers as Array<{ event: string; leg: string; newLeg?: string }>).map((t) => [t.event, t.leg, t.newLeg]), [['replaced', 'caller', 'caller-2'], ['replaced', 'caller-2', 'caller-3']]);
    } finally {
      for (const m of [stayer, agent]) {
        m.ua.close();
        await m.phone.close();
      }
      for (const u of uas) u.close();
      for (const ph of phones) await ph.close();
    }
  });
});

// An attended transfer into a conference: an agent in a room (its consultation call) transfers
// its customer there, and the customer's phone sends Parley an INVITE with Replaces naming the
// agent's dialog (RFC 3891). The customer takes the agent's place in the room (both ways heard),
// the agent gets a BYE, the roster shows the customer, the agent's call and its recording go on
// with the customer until the customer hangs up. Raw SIP members, real RTP peers, tones heard.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { contactUri, inDialogFrom, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { comesToHearTone, join } from './conference-members.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, rawParleyPerSuite, replacingInvite, statusOf } from './raw-dialog.ts';

const STAYER_HZ = 600;
const AGENT_HZ = 1000;
const CUSTOMER_HZ = 1400;

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
      customerUa.send(p.sipPort, inDialogFrom(ok, '', 'BYE', 2, customerUa.port, contactUri(ok), 'x', '').replace(/\r\nContent-Type: x/, ''));
      assert.equal(statusOf(await customerUa.nextMatching(/^SIP\/2\.0 \d+ /, 10_000, callId)), 200);
      await waitFor('the agent\'s call ended', () => p.app.calls!.active.size === 1, 10_000);
      stayer.d.cseq++;
      stayer.d.send('BYE');
      await stayer.d.finalTo(`${stayer.d.cseq} BYE`);
      await waitFor('the room closed', async () => (await p.app.conferences!.get('repl')) === undefined, 10_000);
      await assertNothingLeft(p);
      const meta = await waitFor('the agent call\'s closed recording', () => finalSidecars(p.recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === callId)), 10_000);
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
});

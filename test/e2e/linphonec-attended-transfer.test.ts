// A real softphone's attended transfer through Parley: linphonec (liblinphone 5.1) is the
// agent. A customer's call is bridged to it; it calls a supervisor through Parley too (the
// consultation call), then `transfer 1 --to-call 2`: liblinphone REFERs the customer's call
// with a Refer-To of the consultation call's remote target (Parley) and a Replaces naming its
// consultation dialog with Parley. Parley joins its two calls (consultation.ts): the supervisor
// gets an INVITE whose Replaces names its own dialog with Parley. This checks the dialog
// identifiers a real SIP stack writes against what Parley matches and translates.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { freePort } from '../helpers/free-port.ts';
import { startLinphonec } from '../helpers/linphonec.ts';
import { contactUri, header, inDialogFrom, RawSipClient, tagOf } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { callEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, RawDialog, rawParleyPerSuite, responseTo, statusOf } from './raw-dialog.ts';

const haveLinphonec = spawnSync('sh', ['-c', 'command -v linphonec && command -v sox']).status === 0;

// The customer (a raw caller, From sip:adv@…) is bridged to its To; linphonec, which writes the
// callee's port in the Request-URI only, to the Request-URI. Holds are not passed on (the raw
// customer answers no re-INVITE; linphonec holds the first call while it makes the second).
const YAML = `
calls: { holdPropagation: none }
routing:
  rules:
    - { name: customers, match: { method: INVITE, from: 'sip:adv@*' }, actions: [{ app: xfer }] }
    - { name: phones, match: { method: INVITE, media: audio }, actions: [{ app: xfer, bridgeTo: request-uri }] }
flows:
  xfer:
    - answer
    - record: { action: start }
    - bridge: { ringTimeout: 10 }
`;

describe('linphonec\'s attended transfer, its consultation call through Parley too', { skip: haveLinphonec ? false : 'linphonec or sox not installed' }, () => {
  const parley = rawParleyPerSuite(YAML);

  it('the supervisor gets an INVITE replacing its own dialog with Parley; the customer and the supervisor are connected', async () => {
    const p = parley();
    const mic = path.join(p.recordingDir, '..', 'mic-600.wav');
    spawnSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', mic, 'synth', '60', 'sine', '600', 'vol', '0.3']);
    const agentPort = await freePort();
    const agent = await startLinphonec({ user: 'agent', host: '127.0.0.1', sipPort: agentPort, rtpPort: 20_000 + Math.floor(Math.random() * 10_000) * 2, proxy: `sip:127.0.0.1:${p.sipPort}`, micWav: mic });
    const customerUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const customer = await new RtpPeer({ codec: 'PCMU' }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const sup2 = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      agent.command('autoanswer enable');
      const a = new RawDialog(customerUa, p.sipPort, 'lin-customer', 'agent', `sip:agent@127.0.0.1:${agentPort}`);
      const aEnded = callEnd(p, a.callId, 90_000);
      a.send('INVITE', customer.sdp());
      const okA = await a.final(15_000);
      assert.equal(statusOf(okA), 200, okA);
      a.confirm(okA);
      a.send('ACK', '', 1);
      customer.useRemoteSdp(bodyOf(okA));
      customer.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
      const before = await comesToHear(customer, 600, 0);
      assert.ok(before.ok, `the customer hears linphonec: ${before.detail}`);

      // The consultation call: linphonec holds the customer and calls the supervisor through Parley.
      agent.command('pause 1');
      await agent.waitFor(/Call 1 .*(paused|Paused)/, 10_000);
      agent.command(`call sip:sup@127.0.0.1:${supUa.port}`);
      const inviteB = await supUa.nextMatching(/^INVITE /, 20_000);
      supUa.send(p.sipPort, responseTo(inviteB, '200 OK', 'sup1', sup.sdp(), supUa.port));
      await supUa.nextMatching(/^ACK /, 10_000);
      sup.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      const bLeg = header(inviteB, 'Call-ID');
      const bEnded = waitFor('the consultation call', () => [...p.app.calls!.active.keys()].find((id) => id !== a.callId), 10_000).then((id) => callEnd(p, id, 60_000));
      // The consultation call set up at linphonec's end before it transfers.
      await agent.waitFor(/Media streams established with sip:sup@\S+ for call 2/, 10_000);

      agent.command('transfer 1 --to-call 2');
      const replacing = await supUa.nextMatching(/^INVITE /, 20_000);
      const replacingId = header(replacing, 'Call-ID');
      assert.equal(header(replacing, 'Replaces'), `${bLeg};to-tag=sup1;from-tag=${tagOf(header(inviteB, 'From'))}`, 'the Replaces names the supervisor\'s own dialog of the consultation call');
      assert.match(replacing, new RegExp(`^INVITE sip:callee@127\\.0\\.0\\.1:${supUa.port} `), 'at the supervisor\'s Contact');
      supUa.send(p.sipPort, responseTo(replacing, '200 OK', 'sup2', sup2.sdp(), supUa.port));
      await supUa.nextMatching(/^ACK /, 10_000, replacingId);
      sup2.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      sup.stopSending();
      supUa.send(p.sipPort, inDialogFrom(inviteB, 'sup1', 'BYE', 2, supUa.port, contactUri(inviteB), 'x', '').replace(/\r\nContent-Type: x/, ''));
      assert.equal(statusOf(await supUa.nextMatching(/^SIP\/2\.0 /, 10_000, bLeg)), 200);
      await (await bEnded);

      const after = await comesToHear(customer, 1400, customer.received.length);
      assert.ok(after.ok, `the customer hears the supervisor: ${after.detail}`);
      const heard = await comesToHear(sup2, 1000, 0);
      assert.ok(heard.ok, `the supervisor hears the customer: ${heard.detail}`);
      // liblinphone is told (NOTIFY 200) and hangs its transferred call up; Parley ended the consultation call.
      await agent.waitFor(/call 1 has been transfered[\s\S]*Call 1 with sip:adv@127\.0\.0\.1 ended/, 15_000);
      assert.match(agent.output(), /Call 2 with sip:sup@127\.0\.0\.1:\d+ ended/);
      assert.deepEqual([...p.app.calls!.active.keys()], [a.callId], 'the customer\'s call goes on');
      const log = await agent.sipLog();
      assert.match(log, /^SIP\/2\.0 202 /m, 'its REFER got 202');
      assert.match(log, /NOTIFY[\s\S]*SIP\/2\.0 200 OK/, 'and the NOTIFY 200');

      a.cseq++;
      a.send('BYE');
      assert.equal(statusOf(await a.finalTo(`${a.cseq} BYE`)), 200);
      await answerBye(supUa, p.sipPort, replacingId);
      await aEnded;
      await assertNothingLeft(p);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nlinphonec printed:\n${agent.output().slice(-2000)}`, { cause: err });
    } finally {
      await agent.stop();
      for (const ua of [customerUa, supUa]) ua.close();
      for (const r of [customer, sup, sup2]) await r.close();
    }
  });
});

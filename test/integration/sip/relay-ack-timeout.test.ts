// The header-edit relay (a signalling B2BUA) passes an offerless re-INVITE on: the callee's
// offer goes back in the caller's 200 and the caller's answer would come in its ACK. A
// caller that never sends that ACK: the server ends the caller's dialog after 64*T1 (RFC
// 3261 §13.3.1.4) with a BYE and a Reason. The callee's 200 was left unACKed (drachtio-srf
// waits for the app's answer and holds that dialog's next re-INVITE until then) and its BYE
// carried no Reason. Now the callee's 200 is ACKed with an answer that refuses its offer
// (§13.2.2.4: a 2xx is ACKed with a valid answer even when the dialog is to end), then the
// callee gets a BYE with the same Reason.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { answer, attachRules, relayedCall } from '../../helpers/relay-call.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

const T1 = 40; // timer H = 64*T1 = 2.56 s

const bodyOf = (m: string): string => m.slice(m.indexOf('\r\n\r\n') + 4);

describe('relayed offerless re-INVITE whose ACK never comes', () => {
  let h: Harness;
  let caller: RawSipClient;
  let callee: RawSipClient;
  let sipPort: number;

  before(async () => {
    h = await startHarness({ timers: { ...defaultConfig.sip.timers, t1: T1 } });
    sipPort = h.server.sipPort('udp');
    caller = await RawSipClient.open();
    callee = await RawSipClient.open();
    attachRules(h.srf, [
      {
        name: 'strip',
        match: { headers: { 'Ms-Target-Class': { present: true } } },
        actions: [{ headers: { remove: ['Ms-Target-Class'] } }, { proxy: { targets: [`sip:bob@127.0.0.1:${callee.port}`] } }],
      },
    ]);
  });

  after(() => {
    caller.close();
    callee.close();
    h.close();
  });

  it('after 64*T1 the caller gets the server\'s BYE; the callee\'s 200 is ACKed with a refusing answer, then a BYE with the same Reason', async () => {
    const { back, dlg } = await relayedCall(caller, callee, sipPort, { 'Ms-Target-Class': 'secondary', 'Content-Type': 'application/sdp' });

    // The caller's offerless re-INVITE: the callee offers in its 200, the caller never ACKs it.
    caller.send(sipPort, request('INVITE', caller.port, { ...dlg, CSeq: '2 INVITE' }).text);
    const reinvite = await callee.nextMatching(/^INVITE /);
    const offer = SDP.replace('40000', '40004');
    callee.send(back, answer(reinvite, '200 OK', offer, callee.port));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 200 /), /^m=audio 40004 /m);
    const sentAt = Date.now();

    const callerBye = await caller.nextMatching(/^BYE /, 64 * T1 * 4);
    assert.ok(Date.now() - sentAt >= 64 * T1 - 100, 'the caller\'s BYE only after timer H');
    assert.match(callerBye, /\r\nReason: SIP ;cause=200 ;text="ACK timeout"/);
    caller.send(sipPort, answer(callerBye, '200 OK'));

    // The callee: first the ACK of its 200 with an answer (its m-line refused), then the BYE.
    const ack = await callee.nextMatching(/^ACK /, 5000);
    assert.match(ack, /CSeq: 2 ACK/);
    assert.match(bodyOf(ack), /^m=audio 0 RTP\/AVP /m, `the ACK refuses the callee's offer:\n${ack}`);
    const bye = await callee.nextMatching(/^BYE /, 5000);
    assert.match(bye, /\r\nReason: SIP ;cause=200 ;text="ACK timeout"/, `the callee's BYE says why:\n${bye}`);
    callee.send(back, answer(bye, '200 OK'));
    const end = Date.now() + 5000;
    while (h.server.stats.dialogs > 0 && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    assert.equal(h.server.stats.dialogs, 0, 'no dialog left');
  });
});

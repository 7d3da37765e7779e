// A transfer through the header-edit relay (a B2BUA that edits headers, as an MSPL script in
// Lync does): the caller (the transferor) sends REFER in its dialog, the callee (the transferee)
// calls the Refer-To target and reports how that goes in NOTIFYs (RFC 3515: message/sipfrag,
// the implicit subscription). The relay refused the REFER with 403. Now the REFER goes on in the
// callee's dialog with its Refer-To as sent, the 202 comes back, and each NOTIFY is relayed back
// into the caller's dialog, its Event id mapped to the caller's REFER CSeq. The NOTIFY that ends
// the subscription does not end the call (the SIP server removed the INVITE's dialog on it).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { contactUri, header, RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { answer, attachRules, onEachServer, relayedCall, stripRule, type RelayServer } from '../../helpers/relay-call.ts';

const bodyOf = (msg: string): string => msg.slice(msg.indexOf('\r\n\r\n') + 4);

// On the embedded server, and on a real drachtio-server when one is built (PARLEY_DRACHTIO_BIN; never in the test command).
onEachServer(suite);

function suite(label: string, start: () => Promise<RelayServer>): void {
describe(`REFER through the header-edit relay (a blind transfer, by either side), ${label}`, () => {
  let h: RelayServer;
  let caller: RawSipClient;
  let callee: RawSipClient;
  let target: RawSipClient;
  let sipPort: number;

  before(async () => {
    h = await start();
    sipPort = h.sipPort;
    caller = await RawSipClient.open();
    callee = await RawSipClient.open();
    target = await RawSipClient.open();
    attachRules(h.srf, [stripRule(callee.port)]);
  });

  after(async () => {
    caller.close();
    callee.close();
    target.close();
    await h.close();
  });

  it('the REFER reaches the callee as sent, the 202 the caller, the NOTIFYs come back (Event id mapped), and the call goes on until its BYE', async () => {
    const { back, dlg, invite } = await relayedCall(caller, callee, sipPort, { 'Ms-Target-Class': 'secondary', 'Content-Type': 'application/sdp' });
    const referTo = `<sip:carol@127.0.0.1:${target.port}>`;
    caller.send(sipPort, request('REFER', caller.port, { ...dlg, CSeq: '7 REFER', 'Refer-To': referTo, 'Referred-By': '<sip:raw@127.0.0.1>' }).text);
    const refer = await callee.nextMatching(/^REFER /, 5000);
    assert.equal(header(refer, 'Refer-To'), referTo, 'Refer-To as the caller sent it');
    assert.equal(header(refer, 'Referred-By'), '<sip:raw@127.0.0.1>');
    assert.equal(header(refer, 'Call-ID'), header(invite, 'Call-ID'), 'in the callee\'s dialog');
    callee.send(back, answer(refer, '202 Accepted'));
    const accepted = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 5000);
    assert.match(accepted, /^SIP\/2\.0 202 /, accepted);
    assert.match(accepted, /CSeq: 7 REFER/);

    // The transferee calls the target (directly: the relay is not in that call) and reports.
    const referCseq = Number(/^CSeq:\s*(\d+)/m.exec(refer)![1]);
    const notify = (seq: number, state: string, frag: string): string => [
      `NOTIFY ${contactUri(invite)} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${callee.port};branch=z9hG4bK-refer-notify-${seq}-${process.pid}`,
      'Max-Forwards: 70',
      `From: ${header(refer, 'To')}`,
      `To: ${header(refer, 'From')}`,
      `Call-ID: ${header(refer, 'Call-ID')}`,
      `CSeq: ${seq} NOTIFY`,
      `Event: refer;id=${referCseq}`,
      `Subscription-State: ${state}`,
      'Content-Type: message/sipfrag;version=2.0',
      `Content-Length: ${Buffer.byteLength(frag)}`,
      '',
      frag,
    ].join('\r\n');
    const trying = 'SIP/2.0 100 Trying\r\n';
    callee.send(back, notify(1, 'active;expires=60', trying));
    const n1 = await caller.nextMatching(/^NOTIFY /, 5000);
    assert.equal(header(n1, 'Call-ID'), dlg['Call-ID'], 'in the caller\'s dialog');
    assert.equal(header(n1, 'Event'), 'refer;id=7', 'the id of the caller\'s REFER');
    assert.match(header(n1, 'Subscription-State'), /^active/);
    assert.match(header(n1, 'Content-Type'), /^message\/sipfrag/);
    assert.equal(bodyOf(n1), trying);
    caller.send(sipPort, answer(n1, '200 OK'));
    assert.match(await callee.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 200 [^]*CSeq: 1 NOTIFY/);

    const ok = 'SIP/2.0 200 OK\r\n';
    callee.send(back, notify(2, 'terminated;reason=noresource', ok));
    const n2 = await caller.nextMatching(/^NOTIFY /, 5000);
    assert.match(header(n2, 'Subscription-State'), /^terminated/);
    assert.equal(bodyOf(n2), ok);
    caller.send(sipPort, answer(n2, '200 OK'));
    assert.match(await callee.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 200 [^]*CSeq: 2 NOTIFY/);

    // The transferor hangs up: both dialogs were still there after the subscription ended.
    caller.send(sipPort, request('BYE', caller.port, { ...dlg, CSeq: '8 BYE' }).text);
    const bye = await callee.nextMatching(/^BYE /, 5000);
    callee.send(back, answer(bye, '200 OK'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 200 [^]*CSeq: 8 BYE/);
  });
  it('a REFER from the callee reaches the caller, and the caller\'s NOTIFY the callee, naming the callee\'s REFER', async () => {
    const { back, dlg, invite } = await relayedCall(caller, callee, sipPort, { 'Ms-Target-Class': 'secondary', 'Content-Type': 'application/sdp' });
    const calleeReq = (method: string, seq: number, more: string[], body = ''): string => [
      `${method} ${contactUri(invite)} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${callee.port};branch=z9hG4bK-callee-${method}-${seq}-${process.pid}`,
      'Max-Forwards: 70',
      `From: ${header(invite, 'To')};tag=callee1`,
      `To: ${header(invite, 'From')}`,
      `Call-ID: ${header(invite, 'Call-ID')}`,
      `CSeq: ${seq} ${method}`,
      ...more,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    callee.send(back, calleeReq('REFER', 3, [`Refer-To: <sip:dave@127.0.0.1:${target.port}>`, `Contact: <sip:callee@127.0.0.1:${callee.port}>`]));
    const refer = await caller.nextMatching(/^REFER /, 5000);
    assert.equal(header(refer, 'Refer-To'), `<sip:dave@127.0.0.1:${target.port}>`);
    assert.equal(header(refer, 'Call-ID'), dlg['Call-ID'], 'in the caller\'s dialog');
    caller.send(sipPort, answer(refer, '202 Accepted'));
    assert.match(await callee.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 202 [^]*CSeq: 3 REFER/);

    const frag = 'SIP/2.0 486 Busy Here\r\n';
    const referCseq = /^CSeq:\s*(\d+)/m.exec(refer)![1];
    caller.send(sipPort, request('NOTIFY', caller.port, {
      ...dlg, CSeq: '5 NOTIFY', Event: `refer;id=${referCseq}`, 'Subscription-State': 'terminated;reason=noresource', 'Content-Type': 'message/sipfrag',
    }, frag).text);
    const n = await callee.nextMatching(/^NOTIFY /, 5000);
    assert.equal(header(n, 'Event'), 'refer;id=3', 'the id of the callee\'s REFER');
    assert.equal(bodyOf(n), frag, 'the transfer failed: the callee hears so and keeps the call');
    callee.send(back, answer(n, '200 OK'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 200 [^]*CSeq: 5 NOTIFY/);

    caller.send(sipPort, request('BYE', caller.port, { ...dlg, CSeq: '6 BYE' }).text);
    const bye = await callee.nextMatching(/^BYE /, 5000);
    callee.send(back, answer(bye, '200 OK'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 200 [^]*CSeq: 6 BYE/);
  });
});
}

// Header edits on the wire (issue 15): a raw UDP socket plays the callee and reads the
// forwarded INVITE. drachtio-server's proxy only adds headers, and the embedded server now
// does the same (an empty value is an empty header, not a removal); a rule that removes
// or rewrites a header the request has is relayed as a B2BUA, whose request Parley
// writes, so removed headers are gone, set ones replaced, added ones there once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request, headerValues } from '../../helpers/raw-sip-client.ts';
import { answer, attachRules, onEachServer, relayedCall, viaPort, type RelayServer } from '../../helpers/relay-call.ts';
import { SDP } from '../../helpers/sip-harness.ts';

// On the embedded server, and on a real drachtio-server when one is built (PARLEY_DRACHTIO_BIN; never in the test command).
onEachServer(suite);

function suite(label: string, start: () => Promise<RelayServer>): void {
describe(`header edits on a forwarded request (raw UDP callee), ${label}`, () => {
  let h: RelayServer;
  let caller: RawSipClient;
  let callee: RawSipClient;
  let sipPort: number;

  before(async () => {
    h = await start();
    sipPort = h.sipPort;
    caller = await RawSipClient.open();
    callee = await RawSipClient.open();
    // An app that proxies by itself with raw proxy headers (before the rule chain sees the request).
    h.srf.use('invite', (req, _res, next) => {
      if (!req.has('X-Raw-Proxy')) return next();
      h.srf.proxyRequest(req, [`sip:bob@127.0.0.1:${callee.port}`], { headers: { 'Ms-Target-Class': '', Subject: 'replaced' } } as never, () => undefined);
    });
    attachRules(h.srf, [
      {
        name: 'strip-lync-headers',
        match: { headers: { 'Ms-Target-Class': { present: true } } },
        actions: [{ headers: { remove: ['Ms-Target-Class', 'Ms-Sensitivity'], set: { 'X-Route': 'b' }, add: { 'X-Seen-By': 'parley' } } }, { proxy: { targets: [`sip:bob@127.0.0.1:${callee.port}`] } }],
      },
      {
        name: 'set-from-to',
        match: { headers: { 'X-Set-From': { present: true } } },
        actions: [{ headers: { set: { From: 'sip:+15551234@example.com;user=phone', To: '"Carol" <sip:carol@example.com;user=phone>' } } }, { proxy: { targets: [`sip:bob@127.0.0.1:${callee.port}`] } }],
      },
      {
        name: 'add-only',
        match: { headers: { 'X-Add-Only': { present: true } } },
        actions: [{ headers: { add: { 'X-Seen-By': 'parley' }, set: { 'X-Absent': 'yes' } } }, { proxy: { targets: [`sip:bob@127.0.0.1:${callee.port}`] } }],
      },
    ]);
  });

  after(async () => {
    caller.close();
    callee.close();
    await h.close();
  });

  const lync = { 'Ms-Target-Class': 'secondary', 'Ms-Sensitivity': 'private', 'X-Route': 'a', 'X-Keep': 'yes', 'Content-Type': 'application/sdp' };

  it('remove, set and add: removed headers are gone, the set one replaced, the added one there once; a failure comes back', async () => {
    const r = request('INVITE', caller.port, lync, SDP);
    caller.send(sipPort, r.text);
    const invite = await callee.nextMatching(/^INVITE /);
    assert.deepEqual(headerValues(invite, 'Ms-Target-Class'), [], invite);
    assert.deepEqual(headerValues(invite, 'Ms-Sensitivity'), [], invite);
    assert.deepEqual(headerValues(invite, 'X-Route'), ['b'], invite);
    assert.deepEqual(headerValues(invite, 'X-Seen-By'), ['parley'], invite);
    assert.deepEqual(headerValues(invite, 'X-Keep'), ['yes'], invite);
    assert.deepEqual(headerValues(invite, 'Max-Forwards'), ['69'], invite);
    assert.match(headerValues(invite, 'From')[0] ?? '', new RegExp(`^<sip:raw@127\\.0\\.0\\.1:${caller.port}>;tag=(?!raw)`), 'the caller\'s From, host and all, with a tag of the new leg');
    assert.match(headerValues(invite, 'To')[0] ?? '', /^<sip:parley@127\.0\.0\.1>$/);
    assert.match(invite, /^m=audio 40000 /m, 'the offer is passed on');
    callee.send(viaPort(invite), answer(invite, '486 Busy Here'));
    const final = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /);
    assert.match(final, /^SIP\/2\.0 486 /);
  });

  it('an answered relayed call: the caller gets the callee answer, and its BYE reaches the callee', async () => {
    const { ok, back, dlg } = await relayedCall(caller, callee, sipPort, lync);
    assert.match(ok, /^m=audio 40002 /m, 'the callee answer reaches the caller');
    caller.send(sipPort, request('BYE', caller.port, { ...dlg, CSeq: '2 BYE' }).text);
    const bye = await callee.nextMatching(/^BYE /);
    callee.send(back, answer(bye, '200 OK'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 200 /), /CSeq: 2 BYE/);
  });

  it('an offerless re-INVITE is relayed as one: the callee\'s offer reaches the caller in the 200, the caller\'s answer the callee in the ACK', async () => {
    // Before, the relay ACKed the callee's 200 at once with no answer (drachtio-srf's
    // default) and dropped the answer in the caller's ACK: a 3pcc transfer lost its media.
    const { back, dlg } = await relayedCall(caller, callee, sipPort, lync);

    caller.send(sipPort, request('INVITE', caller.port, { ...dlg, CSeq: '2 INVITE' }).text);
    const reinvite = await callee.nextMatching(/^INVITE /);
    assert.equal(reinvite.slice(reinvite.indexOf('\r\n\r\n') + 4), '', 'the re-INVITE reaches the callee without an offer');
    callee.send(back, answer(reinvite, '200 OK', SDP.replace('40000', '40004'), callee.port));
    const ok2 = await caller.nextMatching(/^SIP\/2\.0 200 /);
    assert.match(ok2, /CSeq: 2 INVITE/);
    assert.match(ok2, /^m=audio 40004 /m, 'the callee\'s offer reaches the caller in the 200');
    caller.send(sipPort, request('ACK', caller.port, { ...dlg, CSeq: '2 ACK', 'Content-Type': 'application/sdp' }, SDP.replace('40000', '40006')).text);
    const ack = await callee.nextMatching(/^ACK /);
    assert.match(ack, /CSeq: 2 ACK/);
    assert.match(ack, /^m=audio 40006 /m, `the caller's answer reaches the callee in the ACK:\n${ack}`);

    caller.send(sipPort, request('BYE', caller.port, { ...dlg, CSeq: '3 BYE' }).text);
    const bye = await callee.nextMatching(/^BYE /);
    callee.send(back, answer(bye, '200 OK'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 200 /), /CSeq: 3 BYE/);
  });

  it('an ACK with its answer and the next offerless re-INVITE back to back: each answer reaches the callee in the ACK of its own 200', async () => {
    // drachtio-srf tells the app of the ACK a turn after the re-INVITE behind it.
    const { back, dlg } = await relayedCall(caller, callee, sipPort, lync);
    caller.send(sipPort, request('INVITE', caller.port, { ...dlg, CSeq: '2 INVITE' }).text);
    for (let n = 2; n <= 4; n++) {
      const reinvite = await callee.nextMatching(/^INVITE /);
      assert.match(reinvite, new RegExp(`CSeq: ${n} INVITE`));
      callee.send(back, answer(reinvite, '200 OK', SDP.replace('40000', String(40000 + 10 * n)), callee.port));
      const ok2 = await caller.nextMatching(/^SIP\/2\.0 200 /);
      assert.match(ok2, new RegExp(`CSeq: ${n} INVITE`));
      assert.match(ok2, new RegExp(`^m=audio ${40000 + 10 * n} `, 'm'));
      caller.send(sipPort, request('ACK', caller.port, { ...dlg, CSeq: `${n} ACK`, 'Content-Type': 'application/sdp' }, SDP.replace('40000', String(40001 + 10 * n))).text);
      if (n < 4) caller.send(sipPort, request('INVITE', caller.port, { ...dlg, CSeq: `${n + 1} INVITE` }).text);
      const ack = await callee.nextMatching(/^ACK /);
      assert.match(ack, new RegExp(`CSeq: ${n} ACK`));
      assert.match(ack, new RegExp(`^m=audio ${40001 + 10 * n} `, 'm'), `the answer to the offer of 200 ${n} is in its ACK:\n${ack}`);
    }
    caller.send(sipPort, request('BYE', caller.port, { ...dlg, CSeq: '5 BYE' }).text);
    const bye = await callee.nextMatching(/^BYE /);
    callee.send(back, answer(bye, '200 OK'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 200 /), /CSeq: 5 BYE/);
  });

  it('a From set as a bare URI with parameters goes out in <> (RFC 3261 §20.10), the leg\'s tag after it; a name-addr as written', async () => {
    const r = request('INVITE', caller.port, { 'X-Set-From': '1', 'Content-Type': 'application/sdp' }, SDP);
    caller.send(sipPort, r.text);
    const invite = await callee.nextMatching(/^INVITE /, 3000, undefined);
    assert.match(headerValues(invite, 'From')[0] ?? '', /^<sip:\+15551234@example\.com;user=phone>;tag=[^;]+$/, invite);
    assert.match(headerValues(invite, 'To')[0] ?? '', /^"Carol" <sip:carol@example\.com;user=phone>$/, invite);
    callee.send(viaPort(invite), answer(invite, '486 Busy Here'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /), /^SIP\/2\.0 486 /);
  });

  it('add only (and set of an absent header): proxied as is, same Call-ID, each added header once', async () => {
    const r = request('INVITE', caller.port, { 'X-Add-Only': '1', 'X-Seen-By': 'upstream', 'Content-Type': 'application/sdp' }, SDP);
    caller.send(sipPort, r.text);
    const invite = await callee.nextMatching(/^INVITE /);
    assert.deepEqual(headerValues(invite, 'Call-ID'), [r.callId], 'a proxy keeps the Call-ID');
    assert.deepEqual(headerValues(invite, 'X-Seen-By'), ['upstream', 'parley'], invite);
    assert.deepEqual(headerValues(invite, 'X-Absent'), ['yes'], invite);
    callee.send(viaPort(invite), answer(invite, '486 Busy Here'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /), /^SIP\/2\.0 486 /);
  });

  it('as drachtio-server does, a proxy header with an empty value is an added empty header, never a removal', async () => {
    const r = request('INVITE', caller.port, { 'X-Raw-Proxy': '1', 'Ms-Target-Class': 'secondary', Subject: 'original', 'Content-Type': 'application/sdp' }, SDP);
    caller.send(sipPort, r.text);
    const invite = await callee.nextMatching(/^INVITE /);
    assert.deepEqual(headerValues(invite, 'Ms-Target-Class'), ['secondary', ''], invite);
    assert.deepEqual(headerValues(invite, 'Subject'), ['replaced'], 'a single header (sofia-sip) is replaced');
    callee.send(viaPort(invite), answer(invite, '486 Busy Here'));
    assert.match(await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /), /^SIP\/2\.0 486 /);
  });
});
}

// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Requests in an early dialog that an UNRELIABLE provisional made (RFC 3261 §12.1: a 1xx with
// a To tag makes an early dialog, reliable or not). Phones and PBXs send DTMF as INFO while a
// menu plays in early media (RFC 6086 §4.2 allows INFO in an early dialog). The SIP server made
// early dialogs for reliable provisionals only, so such an INFO after an ordinary 183 got 481
// and the key was lost: the menu timed out. Now it gets 200 and its digit is taken, as after a
// reliable 183; an INFO naming no early dialog (a wrong To tag, an unknown Call-ID) still gets 481.
// The same for a bridged callee that sends INFO after its 180, before its 200: it got 481 (the
// SIP server knew no early dialog of the B leg). Now it gets 200 and its DTMF is the callee
// leg's digit, as an INFO after the 200 is (that one was answered 200 by drachtio-srf and
// its digit dropped: now the API's `dtmf` event names the callee).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiBase, call, tempApiYaml } from '../helpers/api-client.ts';
import { captureLog } from '../helpers/log-capture.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { contactUri, header, inDialogFrom, RawSipClient, tagOf } from '../helpers/raw-sip-client.ts';
import { VIA_DRACHTIO } from '../helpers/real-drachtio.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import {
  BRIDGE_YAML, bodyOf, menuFiveYaml, offerSdp, okTo, rawCall, rawParleyPerSuite, RawDialog, responseTo, rtpSink, statusOf,
} from './raw-dialog.ts';

/** An INFO of `c`'s dialog with `type` and `body` (CSeq `n`). */
function info(c: RawDialog, n: number, type: string, body: string): string {
  return c.req('INFO', body, n).replace('Content-Type: application/sdp', `Content-Type: ${type}`);
}

// Not through a real drachtio-server 0.9.10 (PARLEY_TEST_VIA_DRACHTIO): it answers an INFO in the
// early dialog of an ordinary 183 500 and a BYE there 481 itself, before the app (one with another
// To tag reaches the app, which answers 481), and a callee's INFO in its early dialog 500.
const REAL = 'a real drachtio-server 0.9.10 answers requests in these early dialogs itself (500, BYE 481)';

describe('an INFO (DTMF) in the early dialog of an unreliable 183, while a menu plays in early media', { skip: VIA_DRACHTIO && REAL }, () => {
  const parley = rawParleyPerSuite(menuFiveYaml('early', 'answer: { early: true }', 486));

  // RFC 3261 §15: a caller may end an early dialog with a BYE. After an ordinary 183 it got 481
  // and the call went on until the caller's CANCEL or the menu's timeout.
  it('a BYE in it ends the call as a CANCEL would: 200, the INVITE 487, nothing left', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU', latch: true, dtmfPt: null }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'unrel-bye', user: 'early', phone }, async (c, ua) => {
      c.send('INVITE', phone.sdp());
      const p183 = await ua.nextMatching(/^SIP\/2\.0 183 /, 10_000, c.callId);
      c.toTag = tagOf(header(p183, 'To')); // its Request-URI stays Parley's address (a 183 need not carry a Contact)
      c.cseq = 2;
      c.send('BYE');
      assert.equal(statusOf(await c.finalTo('2 BYE', 10_000)), 200);
      assert.equal(statusOf(await c.finalTo('1 INVITE', 10_000)), 487);
      c.ackFailure(1);
      await ended;
      await assertNothingLeft(parley());
    });
  });

  for (const [type, body] of [['application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'], ['application/dtmf', '5']] as const) {
    it(`${type}: answered 200, its digit picks the branch (the INVITE then gets that branch's 486)`, async () => {
      const phone = await new RtpPeer({ codec: 'PCMU', latch: true, dtmfPt: null }).bind();
      const ended = nextCallEnd(parley());
      await rawCall(parley(), { name: `unrel-info-${type.slice(12)}`, user: 'early', phone }, async (c, ua) => {
        c.send('INVITE', phone.sdp());
        const p183 = await ua.nextMatching(/^SIP\/2\.0 183 /, 10_000, c.callId);
        assert.doesNotMatch(p183, /^(Require|RSeq):/im, 'an ordinary (unreliable) 183');
        phone.useRemoteSdp(bodyOf(p183));
        phone.start({ kind: 'silence' });
        c.toTag = tagOf(header(p183, 'To'));
        // Not this call's early dialog: another To tag, another Call-ID.
        ua.send(parley().sipPort, info(c, 2, type, body).replace(`;tag=${c.toTag}`, ';tag=not-parleys'));
        assert.equal(statusOf(await c.finalTo('2 INFO', 10_000)), 481, 'an INFO with a To tag of no dialog');
        ua.send(parley().sipPort, info(c, 3, type, body).replaceAll(c.callId, `other-${c.callId}`));
        const stray = await ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000, `other-${c.callId}`);
        assert.equal(statusOf(stray), 481, 'an INFO of an unknown Call-ID');
        ua.send(parley().sipPort, info(c, 4, type, body));
        const res = await c.finalTo('4 INFO', 10_000);
        assert.equal(statusOf(res), 200, res);
        const invite = await c.finalTo('1 INVITE', 15_000);
        assert.equal(statusOf(invite), 486, `the menu took the 5: ${invite.split('\r\n')[0]}`);
        c.ackFailure(1);
        await ended;
        await assertNothingLeft(parley());
      });
    });
  }
});

describe('an INFO (DTMF) from a bridged callee, in its early dialog (after an ordinary 180) and after its 200', { skip: VIA_DRACHTIO && REAL }, () => {
  const parley = rawParleyPerSuite(BRIDGE_YAML);

  it('is answered 200 before the 200 as after it; the digit after it is the callee leg\'s dtmf event', async () => {
    const callerUa = await RawSipClient.open();
    const calleeUa = await RawSipClient.open();
    const callerRtp = await rtpSink();
    const calleeRtp = await rtpSink();
    const ended = nextCallEnd(parley());
    const c = new RawDialog(callerUa, parley().sipPort, 'callee-info', 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
    try {
      assert.equal(statusOf(await c.invite(offerSdp(callerRtp.port))), 200, 'the flow answers the caller first');
      const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
      const back = Number(/^Via: SIP\/2\.0\/UDP [^:]+:(\d+)/m.exec(invite)![1]);
      calleeUa.send(back, responseTo(invite, '180 Ringing', 'callee-early', '', calleeUa.port));
      // In the early dialog the 180 made (RFC 3261 §12.1.2; RFC 6086 §4.2).
      calleeUa.send(back, inDialogFrom(invite, 'callee-early', 'INFO', 1, calleeUa.port, contactUri(invite), 'application/dtmf-relay', 'Signal=8\r\nDuration=100\r\n'));
      const early = await calleeUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      assert.equal(statusOf(early), 200, early);
      assert.match(early, /CSeq: 1 INFO/);

      const sdp = offerSdp(calleeRtp.port).replace('RTP/AVP 0 8', 'RTP/AVP 0').replace('a=rtpmap:8 PCMA/8000\r\n', '');
      calleeUa.send(back, responseTo(invite, '200 OK', 'callee-early', sdp, calleeUa.port));
      await calleeUa.nextMatching(/^ACK /, 10_000);
      // The callee's digits are published from its joining on (leg.joined), as its talking is.
      const base = apiBase(parley());
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const recent = async (): Promise<any[]> => (await call(base, 'GET', '/events/recent?since=0')).body.events;
      const joinedBy = Date.now() + 10_000;
      while (!(await recent()).some((e) => e.type === 'leg.joined' && e.data.leg === 'callee') && Date.now() < joinedBy) await new Promise((r) => setTimeout(r, 50));
      calleeUa.send(back, inDialogFrom(invite, 'callee-early', 'INFO', 2, calleeUa.port, contactUri(invite), 'application/dtmf-relay', 'Signal=9\r\nDuration=100\r\n'));
      const confirmed = await calleeUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      assert.equal(statusOf(confirmed), 200, confirmed);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      let dtmf: any[] = [];
      const end = Date.now() + 5000;
      while (!dtmf.some((e) => e.data.leg === 'callee' && e.data.digit === '9') && Date.now() < end) {
        dtmf = (await recent()).filter((e) => e.type === 'dtmf');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(dtmf.some((e) => e.data.leg === 'callee' && e.data.digit === '9'), `a dtmf event of the callee: ${JSON.stringify(dtmf)}`);

      c.cseq++;
      c.send('BYE');
      const bye = await calleeUa.nextMatching(/^BYE /, 10_000);
      calleeUa.send(back, responseTo(bye, '200 OK', 'callee-early'));
      assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
      assert.equal(header(bye, 'Call-ID'), header(invite, 'Call-ID'));
      await ended;
      await assertNothingLeft(parley());
    } finally {
      callerUa.close();
      calleeUa.close();
      for (const s of [callerRtp, calleeRtp]) s.socket.close();
    }
  });
});

// A member Parley dials into a conference room (POST /rooms/:name/dial) that sends INFO after
// its 180, before its 200: it got 481 (no one took the early dialog of a dial-out leg). Now it
// gets 200 and its digit is logged (the leg is in no one's events before it answered); after the
// 200 its digits are the room's dtmf events of that leg (that INFO was answered 200 by
// drachtio-srf and its digit dropped).
describe('an INFO (DTMF) from a member dialled into a room, in its early dialog and after its 200', { skip: VIA_DRACHTIO && REAL }, () => {
  const logs = captureLog('info');
  const parley = parleyPerSuite(BRIDGE_YAML + tempApiYaml('dial-info-'), { log: logs.log });

  it('is answered 200 before the 200 (its digit logged) as after it (its digit the leg\'s dtmf event)', async () => {
    const base = apiBase(parley());
    const calleeUa = await RawSipClient.open();
    const calleeRtp = await rtpSink();
    try {
      const dialled = call(base, 'POST', '/rooms/dial-info/dial', { to: `sip:carol@127.0.0.1:${calleeUa.port}` });
      const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
      const send = (m: string): void => calleeUa.send(parley().sipPort, m);
      send(responseTo(invite, '180 Ringing', 'member-early', '', calleeUa.port));
      send(inDialogFrom(invite, 'member-early', 'INFO', 1, calleeUa.port, contactUri(invite), 'application/dtmf-relay', 'Signal=4\r\nDuration=100\r\n'));
      const early = await calleeUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      assert.match(early, /CSeq: 1 INFO/);
      assert.equal(statusOf(early), 200, early);
      const logged = logs.find(/DTMF INFO from the dialled leg before it answered/);
      assert.equal(logged.length, 1, JSON.stringify(logged));
      assert.equal(logged[0]!.digit, '4');

      const sdp = offerSdp(calleeRtp.port).replace('RTP/AVP 0 8', 'RTP/AVP 0').replace('a=rtpmap:8 PCMA/8000\r\n', '');
      send(responseTo(invite, '200 OK', 'member-early', sdp, calleeUa.port));
      await calleeUa.nextMatching(/^ACK /, 10_000);
      const r = await dialled;
      assert.equal(r.status, 201, r.text);
      const legId = r.body.leg as string;

      send(inDialogFrom(invite, 'member-early', 'INFO', 2, calleeUa.port, contactUri(invite), 'application/dtmf', '9'));
      const confirmed = await calleeUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      assert.match(confirmed, /CSeq: 2 INFO/);
      assert.equal(statusOf(confirmed), 200, confirmed);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const dtmf = async (): Promise<any[]> => ((await call(base, 'GET', '/events/recent?since=0')).body.events as { type: string }[]).filter((e) => e.type === 'dtmf');
      const events = await waitFor('the dtmf event of the member', async () => {
        const d = await dtmf();
        return d.some((e) => e.data.digit === '9') ? d : undefined;
      }, 5000);
      assert.deepEqual(
        events.map((e) => ({ room: e.data.room, leg: e.data.leg, callId: e.data.callId, digit: e.data.digit })),
        [{ room: 'dial-info', leg: legId, callId: header(invite, 'Call-ID'), digit: '9' }],
        'the digit after the 200 only (the early one is logged, not an event)',
      );

      assert.equal((await call(base, 'DELETE', '/rooms/dial-info')).status, 200);
      const bye = await calleeUa.nextMatching(/^BYE /, 10_000);
      send(okTo(bye));
      await assertNothingLeft(parley());
    } finally {
      calleeUa.close();
      calleeRtp.socket.close();
    }
  });
});

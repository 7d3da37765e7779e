// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A callee that redirects (302: call forwarding on a PBX) has its Contacts dialled in its place,
// highest q first, one after another, as its REFER would be: the caller hears the new callee. Not under `transfers: refuse`, never
// back to a target already tried. A leg the API dials into a room follows a 302 too. Raw SIP
// callees, a raw SIP caller, real RTP peers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiBase, call } from '../helpers/api-client.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { bodyOf, okTo, RawDialog, rawParleyPerSuite, replyTo, responseTo, statusOf } from './raw-dialog.ts';

const parley = rawParleyPerSuite(`
routing:
  rules:
    - { name: refuse, match: { method: INVITE, to: "sip:norefer@*" }, actions: [{ app: strict }] }
    - { name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }
flows:
  gw:
    - answer: { early: true }
    - bridge: { ringTimeout: 10 }
  strict:
    - answer: { early: true }
    - bridge: { ringTimeout: 10, transfers: refuse }
`);

/** A 302 to `invite` sending it to `contact`. */
function moved(invite: string, contact: string): string {
  return responseTo(invite, '302 Moved Temporarily', 'fwd1').replace('Content-Length: 0', `Contact: <${contact}>\r\nContent-Length: 0`);
}

describe('a callee that redirects (3xx)', () => {
  it('302 to another phone: its Contact is dialled with the same offer; the caller and the new callee hear each other', async () => {
    const p = parley();
    const callerUa = await RawSipClient.open();
    const fwdUa = await RawSipClient.open();
    const carolUa = await RawSipClient.open();
    const caller = await new RtpPeer({ codec: 'PCMU' }).bind();
    const carol = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      const d = new RawDialog(callerUa, p.sipPort, 'redirect-follow', 'bob', `sip:bob@127.0.0.1:${fwdUa.port}`);
      const answered = d.invite(caller.sdp());
      const first = await fwdUa.nextMatching(/^INVITE /, 10_000);
      replyTo(fwdUa, first, moved(first, `sip:carol@127.0.0.1:${carolUa.port}`));
      const second = await carolUa.nextMatching(/^INVITE /, 10_000);
      assert.match(second, new RegExp(`^INVITE sip:carol@127\\.0\\.0\\.1:${carolUa.port} SIP/2\\.0`));
      assert.equal(bodyOf(second).replace(/^o=.*$/m, ''), bodyOf(first).replace(/^o=.*$/m, ''), 'the same offer');
      replyTo(carolUa, second, responseTo(second, '200 OK', 'carol1', carol.sdp(), carolUa.port));
      await carolUa.nextMatching(/^ACK /, 10_000);
      const ok = await answered;
      assert.equal(statusOf(ok), 200, ok);
      caller.useRemoteSdp(bodyOf(ok));
      caller.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
      carol.useRemoteSdp(bodyOf(second));
      carol.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      const callerHears = await comesToHear(caller, 1400, 0);
      assert.ok(callerHears.ok, `the caller hears carol: ${callerHears.detail}`);
      const carolHears = await comesToHear(carol, 1000, 0);
      assert.ok(carolHears.ok, `carol hears the caller: ${carolHears.detail}`);
      d.cseq++;
      d.send('BYE');
      assert.equal(statusOf(await d.finalTo(`${d.cseq} BYE`)), 200);
      const bye = await carolUa.nextMatching(/^BYE /, 10_000);
      replyTo(carolUa, bye, okTo(bye));
    } finally {
      for (const ua of [callerUa, fwdUa, carolUa]) ua.close();
      await caller.close();
      await carol.close();
    }
  });

  for (const lines of ['one', 'two'] as const) {
    it(`302 with <low>;q=0.1, <high>;q=1.0 (Contact on ${lines} line${lines === 'two' ? 's' : ''}): high is dialled first; when it is busy, low is dialled next and answers`, async () => {
      const p = parley();
      const callerUa = await RawSipClient.open();
      const fwdUa = await RawSipClient.open();
      const highUa = await RawSipClient.open();
      const lowUa = await RawSipClient.open();
      const caller = await new RtpPeer({ codec: 'PCMU' }).bind();
      const low = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
      try {
        const d = new RawDialog(callerUa, p.sipPort, `redirect-q-${lines}`, 'bob', `sip:bob@127.0.0.1:${fwdUa.port}`);
        const answered = d.invite(caller.sdp());
        const first = await fwdUa.nextMatching(/^INVITE /, 10_000);
        const contacts = [`<sip:low@127.0.0.1:${lowUa.port}>;q=0.1`, `<sip:high@127.0.0.1:${highUa.port}>;q=1.0`];
        const header = lines === 'one' ? `Contact: ${contacts.join(', ')}\r\n` : contacts.map((c) => `Contact: ${c}\r\n`).join('');
        replyTo(fwdUa, first, responseTo(first, '302 Moved Temporarily', 'fwd1').replace('Content-Length: 0', `${header}Content-Length: 0`));
        const toHigh = await highUa.nextMatching(/^INVITE /, 10_000);
        assert.match(toHigh, new RegExp(`^INVITE sip:high@127\\.0\\.0\\.1:${highUa.port} SIP/2\\.0`));
        await assert.rejects(lowUa.nextMatching(/^INVITE /, 300), 'low is not dialled while high rings');
        replyTo(highUa, toHigh, responseTo(toHigh, '486 Busy Here', 'high1'));
        const toLow = await lowUa.nextMatching(/^INVITE /, 10_000);
        assert.match(toLow, new RegExp(`^INVITE sip:low@127\\.0\\.0\\.1:${lowUa.port} SIP/2\\.0`));
        assert.notEqual(/branch=([^;\r]+)/.exec(toLow)![1], /branch=([^;\r]+)/.exec(toHigh)![1], 'a new branch');
        assert.equal(bodyOf(toLow).replace(/^o=.*$/m, ''), bodyOf(first).replace(/^o=.*$/m, ''), 'the same offer');
        replyTo(lowUa, toLow, responseTo(toLow, '200 OK', 'low1', low.sdp(), lowUa.port));
        await lowUa.nextMatching(/^ACK /, 10_000);
        const ok = await answered;
        assert.equal(statusOf(ok), 200, ok);
        d.cseq++;
        d.send('BYE');
        assert.equal(statusOf(await d.finalTo(`${d.cseq} BYE`)), 200);
        const bye = await lowUa.nextMatching(/^BYE /, 10_000);
        replyTo(lowUa, bye, okTo(bye));
      } finally {
        for (const ua of [callerUa, fwdUa, highUa, lowUa]) ua.close();
        await caller.close();
        await low.close();
      }
    });
  }

  it('302 whose Contacts all fail: the caller gets the best of their answers (§16.7), not the 302 turned into 480', async () => {
    const p = parley();
    const callerUa = await RawSipClient.open();
    const fwdUa = await RawSipClient.open();
    const aUa = await RawSipClient.open();
    const bUa = await RawSipClient.open();
    const caller = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      const d = new RawDialog(callerUa, p.sipPort, 'redirect-q-fail', 'bob', `sip:bob@127.0.0.1:${fwdUa.port}`);
      const failed = d.invite(caller.sdp());
      const first = await fwdUa.nextMatching(/^INVITE /, 10_000);
      replyTo(fwdUa, first, responseTo(first, '302 Moved Temporarily', 'fwd1').replace('Content-Length: 0', `Contact: <sip:a@127.0.0.1:${aUa.port}>;q=0.9, <sip:b@127.0.0.1:${bUa.port}>;q=0.5\r\nContent-Length: 0`));
      const toA = await aUa.nextMatching(/^INVITE /, 10_000);
      replyTo(aUa, toA, responseTo(toA, '503 Service Unavailable', 'a1'));
      const toB = await bUa.nextMatching(/^INVITE /, 10_000);
      replyTo(bUa, toB, responseTo(toB, '486 Busy Here', 'b1'));
      const final = await failed;
      assert.equal(statusOf(final), 486, final.split('\r\n')[0]);
    } finally {
      for (const ua of [callerUa, fwdUa, aUa, bUa]) ua.close();
      await caller.close();
    }
  });

  it('a leg the API dials into a room (POST /rooms/:name/dial) that redirects: its Contact is dialled and joins the room', async () => {
    const p = parley();
    const fwdUa = await RawSipClient.open();
    const carolUa = await RawSipClient.open();
    const carol = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      const dialled = call(apiBase(p), 'POST', '/rooms/fwdroom/dial', { to: `sip:dan@127.0.0.1:${fwdUa.port}` });
      const first = await fwdUa.nextMatching(/^INVITE /, 10_000);
      replyTo(fwdUa, first, moved(first, `sip:carol@127.0.0.1:${carolUa.port}`));
      const second = await carolUa.nextMatching(/^INVITE /, 10_000);
      assert.match(second, new RegExp(`^INVITE sip:carol@127\\.0\\.0\\.1:${carolUa.port} SIP/2\\.0`));
      replyTo(carolUa, second, responseTo(second, '200 OK', 'carol1', carol.sdp(), carolUa.port));
      await carolUa.nextMatching(/^ACK /, 10_000);
      const r = await dialled;
      assert.equal(r.status, 201, r.text);
      const room = (await call(apiBase(p), 'GET', '/rooms/fwdroom')).body as { roster?: Array<{ uri: string }> };
      assert.equal(room.roster?.length, 1, JSON.stringify(room));
      await call(apiBase(p), 'DELETE', '/rooms/fwdroom');
      const bye = await carolUa.nextMatching(/^BYE /, 10_000);
      replyTo(carolUa, bye, okTo(bye));
    } finally {
      for (const ua of [fwdUa, carolUa]) ua.close();
      await carol.close();
    }
  });

  it('under transfers: refuse, and to a target already tried, the 302 is the bridge\'s failure: nothing else is dialled', async () => {
    const p = parley();
    const callerUa = await RawSipClient.open();
    const fwdUa = await RawSipClient.open();
    const carolUa = await RawSipClient.open();
    const caller = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      for (const [user, contact] of [['norefer', `sip:carol@127.0.0.1:${carolUa.port}`], ['bob', 'SELF']] as const) {
        const to = `sip:${user}@127.0.0.1:${fwdUa.port}`;
        const d = new RawDialog(callerUa, p.sipPort, `redirect-${user}`, user, to);
        const failed = d.invite(caller.sdp());
        const first = await fwdUa.nextMatching(/^INVITE /, 10_000);
        // SELF: the Contact is the target itself, a loop.
        replyTo(fwdUa, first, moved(first, contact === 'SELF' ? to : contact));
        const final = await failed;
        // A 3xx without its Contact would tell the caller nothing: 480.
        assert.equal(statusOf(final), 480, `${user}: ${final.split('\r\n')[0]}`);
        await assert.rejects(fwdUa.nextMatching(/^INVITE /, 1500), `${user}: no second INVITE to the one that redirected`);
        await assert.rejects(carolUa.nextMatching(/^INVITE /, 500), `${user}: carol is not dialled`);
      }
    } finally {
      for (const ua of [callerUa, fwdUa, carolUa]) ua.close();
      await caller.close();
    }
  });
});

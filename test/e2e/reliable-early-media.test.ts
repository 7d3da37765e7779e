// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A caller that sends `Require: 100rel` (RFC 3262 §3: every provisional response but 100
// MUST then be reliable) got the notice's early media in an unreliable 183. Now the 183 is
// reliable (Require: 100rel, RSeq, retransmitted until the PRACK), the early media flows at
// once, and the 200 waits for the PRACK: no 2xx while a reliable provisional carrying a
// session description is unacknowledged (§3). An UPDATE in the early dialog that 183 makes
// (RFC 3311 §5.1) got 500 (drachtio-srf's answer when nobody listens): now a refresh gets
// 200 and an offer its answer, which the 200 repeats.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, flowYaml, menuFiveYaml, rawCall, rawParleyPerSuite, statusOf, type RawDialog } from './raw-dialog.ts';

/** Early media (a notice of `earlyMs`), then the 200 and `afterMs` more before Parley hangs up. */
const earlyYaml = (earlyMs: number, afterMs: number): string => flowYaml('early', `    - answer: { early: true }
    - play: { tone: "silence:${earlyMs}" }
    - answer
    - play: { tone: "silence:${afterMs}" }
    - hangup
`);

/** The INVITE with `Require: 100rel` (and `more` headers) and its 183; returns the 183 and its RSeq. */
async function inviteReliable(c: RawDialog, ua: RawSipClient, sipPort: number, phone: RtpPeer, more = ''): Promise<{ p183: string; rseq: string | undefined }> {
  ua.send(sipPort, c.req('INVITE', phone.sdp()).replace('\r\nContent-Type:', `\r\nRequire: 100rel\r\n${more}Content-Type:`));
  const p183 = await ua.nextMatching(/^SIP\/2\.0 18\d /, 10_000, c.callId);
  return { p183, rseq: /^RSeq:\s*(\d+)/im.exec(p183)?.[1] };
}

/** The PRACK (CSeq 2) of a reliable 183, which confirms the early dialog. */
function prack(c: RawDialog, ua: RawSipClient, sipPort: number, p183: string, rseq: string): void {
  c.confirm(p183);
  c.cseq = 2;
  ua.send(sipPort, c.req('PRACK').replace('\r\nContent-Length:', `\r\nRAck: ${rseq} 1 INVITE\r\nContent-Length:`));
}

/** Every message `ua` receives within `ms`. */
async function collect(ua: RawSipClient, ms: number): Promise<string[]> {
  const out: string[] = [];
  const end = Date.now() + ms;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) return out;
    try {
      out.push(await ua.next(left));
    } catch {
      return out;
    }
  }
}

describe('Require: 100rel from the caller: early media in a reliable 183, the 200 after its PRACK', () => {
  const parley = rawParleyPerSuite(earlyYaml(300, 500));

  it('the 183 carries Require: 100rel and RSeq, media flows before the PRACK, and the 200 comes only after it', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'require-100rel', user: 'early', phone }, async (c, ua) => {
      const { p183, rseq } = await inviteReliable(c, ua, parley().sipPort, phone, 'Supported: 100rel, timer\r\n');
      assert.match(p183, /^SIP\/2\.0 183 /, p183);
      assert.match(p183, /^Require:\s*100rel\r?$/im, `the 183 is reliable:\n${p183}`);
      assert.ok(rseq, 'the 183 has an RSeq');
      assert.match(bodyOf(p183), /^m=audio [1-9]/m, 'the 183 carries the answer');
      phone.useRemoteSdp(bodyOf(p183));
      phone.start({ kind: 'silence' });
      await phone.waitForPackets(10, 10_000);

      // The flow answers after 300 ms of notice; without the PRACK no 200 may come.
      const meanwhile = await collect(ua, 1500);
      assert.ok(!meanwhile.some((m) => /^SIP\/2\.0 200 /.test(m)), `no 200 before the PRACK:\n${meanwhile.map((m) => m.split('\r\n')[0]).join('\n')}`);
      assert.ok(meanwhile.some((m) => /^SIP\/2\.0 183 /.test(m)), 'the 183 is retransmitted until its PRACK');

      prack(c, ua, parley().sipPort, p183, rseq);
      const answers = [await ua.nextMatching(/^SIP\/2\.0 200 /, 10_000, c.callId), await ua.nextMatching(/^SIP\/2\.0 200 /, 10_000, c.callId)];
      const prackOk = answers.find((m) => /^CSeq:\s*2 PRACK/im.test(m));
      const inviteOk = answers.find((m) => /^CSeq:\s*1 INVITE/im.test(m));
      assert.ok(prackOk, 'the PRACK is answered 200');
      assert.ok(inviteOk, 'the INVITE is answered 200 after the PRACK');
      assert.equal(statusOf(inviteOk), 200);
      c.send('ACK', '', 1);
      await answerBye(ua, parley().sipPort, c.callId);
      assert.equal((await ended).outcome.reason, 'completed');
      await assertNothingLeft(parley());
    });
  });
});

describe('requests in the early dialog of the reliable 183 (before the 200)', () => {
  const parley = rawParleyPerSuite(earlyYaml(4000, 300));

  it('UPDATE without SDP gets 200, UPDATE with an offer its answer, which the 200 then repeats; a sendonly offer is a hold', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'early-update', user: 'early', phone }, async (c, ua) => {
      const { p183, rseq } = await inviteReliable(c, ua, parley().sipPort, phone);
      assert.match(p183, /^SIP\/2\.0 183 /, p183);
      prack(c, ua, parley().sipPort, p183, rseq!);
      const final = (cseq: string): Promise<string> => c.finalTo(cseq);
      assert.equal(statusOf(await final('2 PRACK')), 200);

      c.cseq = 3;
      c.send('UPDATE');
      const refresh = await final('3 UPDATE');
      assert.equal(statusOf(refresh), 200, refresh);
      c.cseq = 4;
      c.send('UPDATE', phone.sdp([], 'sendonly').replace('o=peer 1 1', 'o=peer 1 2'));
      const answered = await final('4 UPDATE');
      assert.equal(statusOf(answered), 200, answered);
      assert.match(bodyOf(answered), /^a=recvonly\r?$/m, 'the answer to the early UPDATE reflects its offer');
      // A hold like one in the confirmed dialog (found from outside: ignored, never passed on, not in the sidecar).
      const call = parley().app.calls!.running.find((a) => a.callId === c.callId);
      assert.equal((call as { holds?: { of(id: string): string | null } } | undefined)?.holds?.of('caller'), 'sendonly', 'the early UPDATE put the caller on hold');

      const ok = await final('1 INVITE');
      assert.equal(statusOf(ok), 200);
      assert.match(bodyOf(ok), /^a=recvonly\r?$/m, 'the 200 repeats the session as the early UPDATE left it');
      c.send('ACK', '', 1);
      await answerBye(ua, parley().sipPort, c.callId);
      assert.equal((await ended).outcome.reason, 'completed');
      await assertNothingLeft(parley());
    });
  });
});

describe('an INFO (DTMF) in the early dialog of the reliable 183, while a menu plays in early media', () => {
  const parley = rawParleyPerSuite(menuFiveYaml('early', 'answer: { early: true }', 486));

  // drachtio-srf holds no dialog before the 200, so the INFO reached the router, which
  // answered 481 for a dialog it did not know: the key was lost and the menu timed out.
  it('is answered 200 and its digit picks the branch (the INVITE then gets that branch\'s 486)', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU', latch: true, dtmfPt: null }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'early-info', user: 'early', phone }, async (c, ua) => {
      const { p183, rseq } = await inviteReliable(c, ua, parley().sipPort, phone);
      assert.ok(rseq, `a reliable 183: ${p183.split('\r\n')[0]}`);
      phone.useRemoteSdp(bodyOf(p183));
      phone.start({ kind: 'silence' });
      prack(c, ua, parley().sipPort, p183, rseq);
      assert.equal(statusOf(await c.finalTo('2 PRACK', 15_000)), 200);
      c.cseq = 3;
      const body = 'Signal=5\r\nDuration=160\r\n';
      ua.send(parley().sipPort, c.req('INFO', body).replace('Content-Type: application/sdp', 'Content-Type: application/dtmf-relay'));
      const info = await c.finalTo('3 INFO', 15_000);
      assert.equal(statusOf(info), 200, info);
      const invite = await c.finalTo('1 INVITE', 15_000);
      assert.equal(statusOf(invite), 486, `the menu took the 5: ${invite.split('\r\n')[0]}`);
      c.ackFailure(1);
      await ended;
      await assertNothingLeft(parley());
    });
  });
});

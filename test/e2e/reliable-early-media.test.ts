// A caller that sends `Require: 100rel` (RFC 3262 §3: every provisional response but 100
// MUST then be reliable) got the notice's early media in an unreliable 183. Now the 183 is
// reliable (Require: 100rel, RSeq, retransmitted until the PRACK), the early media flows at
// once, and the 200 waits for the PRACK: no 2xx while a reliable provisional carrying a
// session description is unacknowledged (§3). An UPDATE in the early dialog that 183 makes
// (RFC 3311 §5.1) got 500 (drachtio-srf's answer when nobody listens): now a refresh gets
// 200 and an offer its answer, which the 200 repeats.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, RawDialog, statusOf } from './raw-dialog.ts';

const yaml = `
routing:
  rules: [{ name: early, match: { method: INVITE, media: audio }, actions: [{ app: early }] }]
flows:
  early:
    - answer: { early: true }
    - play: { tone: "silence:300" }
    - answer
    - play: { tone: "silence:500" }
    - hangup
`;

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
  const parley = parleyPerSuite(yaml + apiYaml(join(mkdtempSync(join(tmpdir(), 'field-')), 'rules.json')));

  it('the 183 carries Require: 100rel and RSeq, media flows before the PRACK, and the 200 comes only after it', async () => {
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const c = new RawDialog(ua, parley().sipPort, 'require-100rel', 'early');
    const ended = nextCallEnd(parley());
    try {
      const invite = c.req('INVITE', phone.sdp()).replace('\r\nContent-Type:', '\r\nRequire: 100rel\r\nSupported: 100rel, timer\r\nContent-Type:');
      ua.send(parley().sipPort, invite);
      const p183 = await ua.nextMatching(/^SIP\/2\.0 18\d /, 10_000, c.callId);
      assert.match(p183, /^SIP\/2\.0 183 /, p183);
      assert.match(p183, /^Require:\s*100rel\r?$/im, `the 183 is reliable:\n${p183}`);
      const rseq = /^RSeq:\s*(\d+)/im.exec(p183)?.[1];
      assert.ok(rseq, 'the 183 has an RSeq');
      assert.match(bodyOf(p183), /^m=audio [1-9]/m, 'the 183 carries the answer');
      phone.useRemoteSdp(bodyOf(p183));
      phone.start({ kind: 'silence' });
      await phone.waitForPackets(10, 10_000);

      // The flow answers after 300 ms of notice; without the PRACK no 200 may come.
      const meanwhile = await collect(ua, 1500);
      assert.ok(!meanwhile.some((m) => /^SIP\/2\.0 200 /.test(m)), `no 200 before the PRACK:\n${meanwhile.map((m) => m.split('\r\n')[0]).join('\n')}`);
      assert.ok(meanwhile.some((m) => /^SIP\/2\.0 183 /.test(m)), 'the 183 is retransmitted until its PRACK');

      c.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(p183)![1]!;
      c.contact = /\r\nContact:\s*<([^>]+)>/i.exec(p183)![1]!;
      c.cseq = 2;
      ua.send(parley().sipPort, c.req('PRACK').replace('\r\nContent-Length:', `\r\nRAck: ${rseq} 1 INVITE\r\nContent-Length:`));
      const answers = [await ua.nextMatching(/^SIP\/2\.0 200 /, 10_000, c.callId), await ua.nextMatching(/^SIP\/2\.0 200 /, 10_000, c.callId)];
      const prackOk = answers.find((m) => /^CSeq:\s*2 PRACK/im.test(m));
      const inviteOk = answers.find((m) => /^CSeq:\s*1 INVITE/im.test(m));
      assert.ok(prackOk, 'the PRACK is answered 200');
      assert.ok(inviteOk, 'the INVITE is answered 200 after the PRACK');
      assert.equal(statusOf(inviteOk), 200);
      c.send('ACK', '', 1);
      const bye = await ua.nextMatching(/^BYE /, 15_000, c.callId);
      ua.send(parley().sipPort, `SIP/2.0 200 OK\r\n${bye.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
      assert.equal((await ended).outcome.reason, 'completed');
      await assertNothingLeft(parley());
    } finally {
      ua.close();
      await phone.close();
    }
  });
});

describe('requests in the early dialog of the reliable 183 (before the 200)', () => {
  const parley = parleyPerSuite(
    `
routing:
  rules: [{ name: early, match: { method: INVITE, media: audio }, actions: [{ app: early }] }]
flows:
  early:
    - answer: { early: true }
    - play: { tone: "silence:4000" }
    - answer
    - play: { tone: "silence:300" }
    - hangup
` + apiYaml(join(mkdtempSync(join(tmpdir(), 'field-')), 'rules.json')),
  );

  it('UPDATE without SDP gets 200, UPDATE with an offer its answer, which the 200 then repeats', async () => {
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const c = new RawDialog(ua, parley().sipPort, 'early-update', 'early');
    const ended = nextCallEnd(parley());
    try {
      ua.send(parley().sipPort, c.req('INVITE', phone.sdp()).replace('\r\nContent-Type:', '\r\nRequire: 100rel\r\nContent-Type:'));
      const p183 = await ua.nextMatching(/^SIP\/2\.0 183 /, 10_000, c.callId);
      const rseq = /^RSeq:\s*(\d+)/im.exec(p183)![1]!;
      c.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(p183)![1]!;
      c.contact = /\r\nContact:\s*<([^>]+)>/i.exec(p183)![1]!;
      c.cseq = 2;
      ua.send(parley().sipPort, c.req('PRACK').replace('\r\nContent-Length:', `\r\nRAck: ${rseq} 1 INVITE\r\nContent-Length:`));
      const final = async (cseq: string): Promise<string> => {
        for (;;) {
          const m = await c.final(10_000);
          if (new RegExp(`^CSeq:\\s*${cseq}\\r?$`, 'im').test(m)) return m;
        }
      };
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

      const ok = await final('1 INVITE');
      assert.equal(statusOf(ok), 200);
      assert.match(bodyOf(ok), /^a=recvonly\r?$/m, 'the 200 repeats the session as the early UPDATE left it');
      c.send('ACK', '', 1);
      const bye = await ua.nextMatching(/^BYE /, 15_000, c.callId);
      ua.send(parley().sipPort, `SIP/2.0 200 OK\r\n${bye.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
      assert.equal((await ended).outcome.reason, 'completed');
      await assertNothingLeft(parley());
    } finally {
      ua.close();
      await phone.close();
    }
  });
});

describe('an INFO (DTMF) in the early dialog of the reliable 183, while a menu plays in early media', () => {
  const parley = parleyPerSuite(
    `
routing:
  rules: [{ name: early, match: { method: INVITE, media: audio }, actions: [{ app: early }] }]
flows:
  early:
    - answer: { early: true }
    - menu:
        prompt: { tone: "silence:200" }
        branches: { "5": five }
        retries: 0
        timeout: 30
        fallback: none
  five:
    - hangup: { status: 486 }
  none:
    - hangup: { status: 404 }
` + apiYaml(join(mkdtempSync(join(tmpdir(), 'field-')), 'rules.json')),
  );

  // drachtio-srf holds no dialog before the 200, so the INFO reached the router, which
  // answered 481 for a dialog it did not know: the key was lost and the menu timed out.
  it('is answered 200 and its digit picks the branch (the INVITE then gets that branch\'s 486)', async () => {
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU', latch: true, dtmfPt: null }).bind();
    const c = new RawDialog(ua, parley().sipPort, 'early-info', 'early');
    const ended = nextCallEnd(parley());
    try {
      ua.send(parley().sipPort, c.req('INVITE', phone.sdp()).replace('\r\nContent-Type:', '\r\nRequire: 100rel\r\nContent-Type:'));
      const p183 = await ua.nextMatching(/^SIP\/2\.0 183 /, 10_000, c.callId);
      const rseq = /^RSeq:\s*(\d+)/im.exec(p183)![1]!;
      c.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(p183)![1]!;
      c.contact = /\r\nContact:\s*<([^>]+)>/i.exec(p183)![1]!;
      phone.useRemoteSdp(bodyOf(p183));
      phone.start({ kind: 'silence' });
      c.cseq = 2;
      ua.send(parley().sipPort, c.req('PRACK').replace('\r\nContent-Length:', `\r\nRAck: ${rseq} 1 INVITE\r\nContent-Length:`));
      const final = async (cseq: string): Promise<string> => {
        for (;;) {
          const m = await c.final(15_000);
          if (new RegExp(`^CSeq:\\s*${cseq}\\r?$`, 'im').test(m)) return m;
        }
      };
      assert.equal(statusOf(await final('2 PRACK')), 200);
      c.cseq = 3;
      const body = 'Signal=5\r\nDuration=160\r\n';
      ua.send(parley().sipPort, c.req('INFO', body).replace('Content-Type: application/sdp', 'Content-Type: application/dtmf-relay'));
      const info = await final('3 INFO');
      assert.equal(statusOf(info), 200, info);
      const invite = await final('1 INVITE');
      assert.equal(statusOf(invite), 486, `the menu took the 5: ${invite.split('\r\n')[0]}`);
      c.ackFailure(1);
      await ended;
      await assertNothingLeft(parley());
    } finally {
      ua.close();
      await phone.close();
    }
  });
});

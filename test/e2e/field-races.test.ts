// Timing that phones and SBCs produce in the field, each in a real call over UDP: a CANCEL
// crossing the 200, a BYE before the ACK, an UPDATE with and without SDP, an OPTIONS
// keep-alive to Parley's own address. Every INVITE gets one final response and nothing is
// left behind.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient, request } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, RawDialog, statusOf } from './raw-dialog.ts';

const yaml = `
routing:
  rules: [{ name: hold, match: { method: INVITE, media: audio }, actions: [{ app: hold }] }]
flows:
  hold:
    - answer
    - play: { tone: "silence:20000" }
    - hangup
`;

/** The next final response to `cseq` (retransmitted 200s of the INVITE and the like skipped). */
async function finalFor(c: RawDialog, cseq: string): Promise<string> {
  for (;;) {
    const m = await c.final(10_000);
    if (new RegExp(`^CSeq:\\s*${cseq}\\r?$`, 'im').test(m)) return m;
  }
}

/** Our BYE's final status (CSeq 2), answering any BYE from Parley meanwhile. */
async function byeOutcome(ua: RawSipClient, sipPort: number, callId: string): Promise<number> {
  for (;;) {
    const m = await ua.nextMatching(/^(SIP\/2\.0 [2-6]\d\d |BYE )/, 10_000, callId);
    if (m.startsWith('BYE ')) {
      ua.send(sipPort, `SIP/2.0 200 OK\r\n${m.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
      continue;
    }
    if (/^CSeq:\s*2 BYE\r?$/im.test(m)) return statusOf(m);
  }
}

describe('races and keep-alives from the field (real SIP over UDP)', () => {
  const parley = parleyPerSuite(yaml + apiYaml(join(mkdtempSync(join(tmpdir(), 'field-')), 'rules.json')));

  it('a CANCEL sent right after the INVITE, racing the 200: one final response, and the call is gone either way', async () => {
    for (let i = 0; i < 3; i++) {
      const ua = await RawSipClient.open();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      const c = new RawDialog(ua, parley().sipPort, `cancel-race-${i}`, 'hold');
      try {
        c.send('INVITE', phone.sdp());
        // At once, after the 100 Trying, a moment later: the later, the likelier the 200 wins.
        if (i === 1) await ua.nextMatching(/^SIP\/2\.0 100 /, 10_000, c.callId);
        if (i === 2) await new Promise((r) => setTimeout(r, 40));
        // A CANCEL has the INVITE's Request-URI, Via branch, From, To (no tag) and Call-ID (RFC 3261 §9.1).
        ua.send(parley().sipPort, c.req('CANCEL', '', 1, 'INVITE'));
        const invFinal = await finalFor(c, '1 INVITE');
        const st = statusOf(invFinal);
        assert.ok(st === 200 || st === 487, `the INVITE ends in 200 or 487, not ${st}`);
        if (st === 200) {
          c.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(invFinal)![1]!;
          c.contact = /\r\nContact:\s*<([^>]+)>/i.exec(invFinal)![1]!;
          c.send('ACK', '', 1);
          c.cseq = 2;
          c.send('BYE');
          // A CANCEL after the 200 has no effect on the INVITE (RFC 3261 §9.2); the SIP server ends
          // the dialog with its own BYE (as drachtio-server does), which may cross ours (481).
          const st2 = await byeOutcome(ua, parley().sipPort, c.callId);
          assert.ok(st2 === 200 || st2 === 481, `our BYE gets 200, or 481 when Parley's BYE crossed it (${st2})`);
        } else c.ackFailure(1);
        await assertNothingLeft(parley());
      } finally {
        ua.close();
        await phone.close();
      }
    }
  });

  it('a BYE before the ACK of the 200 is answered 200 and ends the call', async () => {
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const c = new RawDialog(ua, parley().sipPort, 'bye-before-ack', 'hold');
    const ended = nextCallEnd(parley());
    try {
      c.send('INVITE', phone.sdp());
      const ok = await c.final(15_000);
      assert.equal(statusOf(ok), 200, ok);
      c.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(ok)![1]!;
      c.contact = /\r\nContact:\s*<([^>]+)>/i.exec(ok)![1]!;
      c.cseq = 2;
      c.send('BYE');
      const res = await finalFor(c, '2 BYE');
      assert.match(res, /^SIP\/2\.0 200 /, res);
      assert.equal((await ended).outcome.reason, 'call-ended');
      await assertNothingLeft(parley());
    } finally {
      ua.close();
      await phone.close();
    }
  });

  it('UPDATE without SDP gets a bare 200; UPDATE with SDP gets the answer; the call goes on', async () => {
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const c = new RawDialog(ua, parley().sipPort, 'update', 'hold');
    const ended = nextCallEnd(parley());
    try {
      const ok = await c.invite(phone.sdp());
      assert.equal(statusOf(ok), 200, ok);
      c.cseq++;
      c.send('UPDATE');
      const bare = await c.final();
      assert.equal(statusOf(bare), 200, bare);
      assert.equal(bodyOf(bare), '', 'no SDP in the answer to a refresh');
      c.cseq++;
      c.send('UPDATE', phone.sdp([], 'sendonly').replace('o=peer 1 1', 'o=peer 1 2'));
      const withSdp = await c.final();
      assert.equal(statusOf(withSdp), 200, withSdp);
      assert.match(bodyOf(withSdp), /^a=recvonly\r?$/m, 'the answer reflects the hold');
      assert.equal(parley().app.calls!.active.size, 1);
      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.final()), 200);
      assert.equal((await ended).outcome.reason, 'call-ended');
      await assertNothingLeft(parley());
    } finally {
      ua.close();
      await phone.close();
    }
  });

  it('an OPTIONS keep-alive to Parley\'s own address is answered 200 with Allow and Accept', async () => {
    const ua = await RawSipClient.open();
    try {
      const r = request('OPTIONS', ua.port, { To: `<sip:127.0.0.1:${parley().sipPort}>` });
      ua.send(parley().sipPort, r.text.replace(/^OPTIONS sip:parley@127\.0\.0\.1 /, `OPTIONS sip:127.0.0.1:${parley().sipPort} `));
      const res = await ua.nextMatching(/^SIP\/2\.0 /, 5000, r.callId);
      assert.match(res, /^SIP\/2\.0 200 /, res);
      const allow = /^Allow:\s*(.+)$/im.exec(res)?.[1] ?? '';
      for (const m of ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'UPDATE', 'INFO', 'PRACK']) assert.match(allow, new RegExp(`\\b${m}\\b`), `Allow lists ${m}: ${allow}`);
      assert.match(res, /^Accept:\s*application\/sdp/im);
    } finally {
      ua.close();
    }
  });
});

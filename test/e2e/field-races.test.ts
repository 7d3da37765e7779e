// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Timing that phones and SBCs produce in the field, each in a real call over UDP: a CANCEL
// crossing the 200, a BYE before the ACK, an UPDATE with and without SDP, an OPTIONS
// keep-alive to Parley's own address. Every INVITE gets one final response and nothing is
// left behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawSipClient, request } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, holdYaml, okTo, rawCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

/** Our BYE's final status (CSeq 2), answering any BYE from Parley meanwhile. */
async function byeOutcome(ua: RawSipClient, sipPort: number, callId: string): Promise<number> {
  for (;;) {
    const m = await ua.nextMatching(/^(SIP\/2\.0 [2-6]\d\d |BYE )/, 10_000, callId);
    if (m.startsWith('BYE ')) {
      ua.send(sipPort, okTo(m));
      continue;
    }
    if (/^CSeq:\s*2 BYE\r?$/im.test(m)) return statusOf(m);
  }
}

describe('races and keep-alives from the field (real SIP over UDP)', () => {
  const parley = rawParleyPerSuite(holdYaml(20_000));

  it('a CANCEL sent right after the INVITE, racing the 200: one final response, and the call is gone either way', async () => {
    for (let i = 0; i < 3; i++) {
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      await rawCall(parley(), { name: `cancel-race-${i}`, phone }, async (c, ua) => {
        c.send('INVITE', phone.sdp());
        // At once, after the 100 Trying, a moment later: the later, the likelier the 200 wins.
        if (i === 1) await ua.nextMatching(/^SIP\/2\.0 100 /, 10_000, c.callId);
        if (i === 2) await new Promise((r) => setTimeout(r, 40));
        // A CANCEL has the INVITE's Request-URI, Via branch, From, To (no tag) and Call-ID (RFC 3261 §9.1).
        ua.send(parley().sipPort, c.req('CANCEL', '', 1, 'INVITE'));
        const invFinal = await c.finalTo('1 INVITE');
        const st = statusOf(invFinal);
        assert.ok(st === 200 || st === 487, `the INVITE ends in 200 or 487, not ${st}`);
        if (st === 200) {
          c.confirm(invFinal);
          c.send('ACK', '', 1);
          c.cseq = 2;
          c.send('BYE');
          // A CANCEL after the 200 has no effect on the INVITE (RFC 3261 §9.2); the SIP server ends
          // the dialog with its own BYE (as drachtio-server does), which may cross ours (481).
          const st2 = await byeOutcome(ua, parley().sipPort, c.callId);
          assert.ok(st2 === 200 || st2 === 481, `our BYE gets 200, or 481 when Parley's BYE crossed it (${st2})`);
        } else c.ackFailure(1);
        await assertNothingLeft(parley());
      });
    }
  });

  it('a BYE before the ACK of the 200 is answered 200 and ends the call', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'bye-before-ack', phone }, async (c) => {
      c.send('INVITE', phone.sdp());
      const ok = await c.final(15_000);
      assert.equal(statusOf(ok), 200, ok);
      c.confirm(ok);
      c.cseq = 2;
      c.send('BYE');
      const res = await c.finalTo('2 BYE');
      assert.match(res, /^SIP\/2\.0 200 /, res);
      assert.equal((await ended).outcome.reason, 'call-ended');
      await assertNothingLeft(parley());
    });
  });

  it('UPDATE without SDP gets a bare 200; UPDATE with SDP gets the answer; the call goes on', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'update', phone }, async (c) => {
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
    });
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

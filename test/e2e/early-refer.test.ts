// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A REFER in an early dialog (RFC 3261 §12.1: a 1xx with a To tag makes one, reliable or not;
// RFC 3515 does not keep REFER out of it): a caller that got the bridge's 180 while the callee
// rings, the ringing callee itself, a member of a room whose 200 waits for its PRACK, a leg the
// API dials into a room, a transfer's ringing target. drachtio-srf has no Dialog before the 2xx,
// so each such REFER reached the app as a request of no dialog, and, no handler being there for
// its method, drachtio-srf answered 404 (the member's, taken by its room, would have been 481).
// Now each gets the answer the dialog's REFER gets before the call is connected: 491 (try again
// later, RFC 3261 §21.4.27) with a Warning saying the call is not connected yet where Parley
// would carry the transfer out once connected (the bridge under `transfers: both` for the caller,
// `callee` or `both` for the callee; a room under `transfers: members`; a transfer's target),
// else 403 with a Warning (transfers really refused there). A room member's second REFER while
// its first transfer rings gets 491 too (it got 403). Real SIP over loopback UDP.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiBase, call } from '../helpers/api-client.ts';
import { contactUri, header, inDialogFrom, RawSipClient } from '../helpers/raw-sip-client.ts';
import { VIA_DRACHTIO } from '../helpers/real-drachtio.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd, sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, flowYaml, okTo, rawCall, rawParleyPerSuite, type RawDialog, replyTo, responseTo, statusOf, TransferorPhone } from './raw-dialog.ts';

// Not checked through a real drachtio-server (PARLEY_TEST_VIA_DRACHTIO): 0.9.10 answers other
// requests in these early dialogs itself, before the app (early-dialog-info.test.ts).
const REAL = 'a real drachtio-server answers requests in early dialogs itself';

const NOT_CONNECTED = /^Warning: 399 parley "the call is not connected yet[^"]*"\r?$/m;
const REFUSED = /^Warning: 399 parley "call transfer \(REFER\) is not supported here"\r?$/m;

/** A REFER of the caller's dialog `c` (its next CSeq), to `target`. */
function callerRefer(c: RawDialog, target: string): string {
  c.cseq++;
  return c.req('REFER').replace('\r\nContent-Length:', `\r\nRefer-To: <${target}>\r\nContent-Length:`);
}

/** A REFER from the callee of Parley's INVITE `invite` (its To tag `tag`), in that INVITE's dialog. */
function calleeRefer(invite: string, tag: string, seq: number, port: number, target: string): string {
  return inDialogFrom(invite, tag, 'REFER', seq, port, contactUri(invite), 'x', '').replace(
    /\r\nContent-Type: x/,
    `\r\nRefer-To: <${target}>\r\nContact: <sip:callee@127.0.0.1:${port}>`,
  );
}

/** The final response to the REFER of CSeq `seq` that `ua` receives. */
async function referAnswer(ua: RawSipClient, seq: number): Promise<string> {
  for (;;) {
    const m = await ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000);
    if (new RegExp(`^CSeq:\\s*${seq} REFER\\r?$`, 'im').test(m)) return m;
  }
}

/** 491 and the not-connected Warning (`expect` 491), or 403 and the refusal's (`expect` 403). */
function assertAnswer(res: string, expect: 491 | 403, who: string): void {
  assert.equal(statusOf(res), expect, `${who}:\n${res}`);
  assert.match(res, expect === 491 ? NOT_CONNECTED : REFUSED, `${who}: the Warning says why`);
}

const BRIDGE_CASES = [
  { transfers: 'both', caller: 491, callee: 491 },
  { transfers: 'callee', caller: 403, callee: 491 },
  { transfers: 'refuse', caller: 403, callee: 403 },
] as const;

for (const k of BRIDGE_CASES) {
  describe(`REFERs in the early dialogs of a bridge still ringing its callee (transfers: ${k.transfers}, no answer step)`, { skip: VIA_DRACHTIO && REAL }, () => {
    const parley = rawParleyPerSuite(flowYaml('ring', `    - bridge: { ringTimeout: 30, transfers: ${k.transfers} }\n`));

    it(`the caller's REFER after the 180 gets ${k.caller}, the callee's after its 180 ${k.callee}; the callee then answers and the call is connected`, async () => {
      const calleeUa = await RawSipClient.open();
      const calleeRtp = await new RtpPeer({ codec: 'PCMU' }).bind();
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      try {
        const ended = nextCallEnd(parley());
        await rawCall(parley(), { name: `early-refer-${k.transfers}`, user: 'bob', to: `sip:bob@127.0.0.1:${calleeUa.port}`, phone }, async (c, ua) => {
          c.send('INVITE', phone.sdp());
          const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
          replyTo(calleeUa, invite, responseTo(invite, '180 Ringing', 'ringing-bob', '', calleeUa.port));
          // The bridge's 180 to the caller makes the caller's early dialog (its To tag).
          const ringing = await ua.nextMatching(/^SIP\/2\.0 180 /, 15_000);
          c.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(ringing)![1]!;

          ua.send(parley().sipPort, callerRefer(c, 'sip:carol@127.0.0.1:5999'));
          assertAnswer(await referAnswer(ua, c.cseq), k.caller, "the caller's REFER");
          replyTo(calleeUa, invite, calleeRefer(invite, 'ringing-bob', 1, calleeUa.port, 'sip:dave@127.0.0.1:5998'));
          assertAnswer(await referAnswer(calleeUa, 1), k.callee, "the callee's REFER");

          // The call goes on: the callee answers, the caller is answered.
          replyTo(calleeUa, invite, responseTo(invite, '200 OK', 'ringing-bob', calleeRtp.sdp(), calleeUa.port));
          await calleeUa.nextMatching(/^ACK /, 15_000);
          const ok = await c.finalTo('1 INVITE');
          assert.equal(statusOf(ok), 200, ok);
          c.confirm(ok);
          c.send('ACK', '', 1);
          c.cseq++;
          c.send('BYE');
          const bye = await calleeUa.nextMatching(/^BYE /, 15_000);
          replyTo(calleeUa, bye, okTo(bye));
          assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
          await ended;
          await assertNothingLeft(parley());
        });
      } finally {
        calleeUa.close();
        await calleeRtp.close();
      }
    });
  });
}

/** The caller's INVITE requiring 100rel (RFC 3262), so that its 200 waits for its PRACK. */
function inviteRequiring100rel(c: RawDialog, sdp: string): string {
  return c.req('INVITE', sdp).replace('\r\nContent-Type:', '\r\nRequire: 100rel\r\nSupported: 100rel\r\nContent-Type:');
}

for (const k of [{ transfers: 'members', status: 491 }, { transfers: 'refuse', status: 403 }] as const) {
  describe(`a REFER from a member of a room before its 200 (transfers: ${k.transfers})`, { skip: VIA_DRACHTIO && REAL }, () => {
    const room = `early-refer-${k.transfers}`;
    const parley = rawParleyPerSuite(flowYaml('room', `    - answer: { early: true }\n    - conference: { room: ${room}, transfers: ${k.transfers} }\n`));
    const roster = async (): Promise<string[]> => {
      const r = await call(apiBase(parley()), 'GET', `/rooms/${room}`);
      return r.status === 200 ? r.body.roster.map((e: { callId: string }) => e.callId) : [];
    };

    it(`in the early dialog of its reliable 183, joined but not answered (no PRACK yet): ${k.status}; then PRACKed, it is answered and stays in the room`, async () => {
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      const ended = nextCallEnd(parley());
      await rawCall(parley(), { name: `early-refer-room-${k.transfers}`, phone }, async (c, ua) => {
        c.sendText(inviteRequiring100rel(c, phone.sdp()));
        const early = await ua.nextMatching(/^SIP\/2\.0 183 /, 15_000);
        c.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(early)![1]!;
        const rseq = header(early, 'RSeq');
        assert.match(rseq, /^\d+$/, 'a reliable 183');
        // The conference step has joined the room; its 200 waits for the PRACK.
        await waitFor('the member in the room', async () => (await roster()).includes(c.callId) || undefined, 15_000);

        ua.send(parley().sipPort, callerRefer(c, 'sip:carol@127.0.0.1:5999'));
        const res = await referAnswer(ua, c.cseq);
        assert.equal(statusOf(res), k.status, res);
        assert.match(res, k.status === 491 ? /^Warning: 399 parley "the call is not connected yet: it has not been answered"\r?$/m : REFUSED, 'the Warning says why');

        c.cseq++;
        c.sendText(c.req('PRACK').replace('\r\nContent-Length:', `\r\nRAck: ${rseq} 1 INVITE\r\nContent-Length:`));
        const ok = await c.finalTo('1 INVITE');
        assert.equal(statusOf(ok), 200, ok);
        c.confirm(ok);
        c.send('ACK', '', 1);
        assert.deepEqual(await roster(), [c.callId], 'the member is in the room');
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
        await ended;
        await assertNothingLeft(parley());
      });
    });
  });
}

describe('a REFER from a leg the API dials into a room, in its early dialog', { skip: VIA_DRACHTIO && REAL }, () => {
  const parley = rawParleyPerSuite(flowYaml('none', '    - hangup\n'));

  for (const k of [{ transfers: 'members', status: 491 }, { transfers: 'refuse', status: 403 }] as const) {
    it(`transfers: ${k.transfers}: ${k.status}; the leg then fails busy and nothing is left`, async () => {
      const legUa = await RawSipClient.open();
      try {
        const dialled = call(apiBase(parley()), 'POST', `/rooms/early-refer-dial-${k.transfers}/dial`, { to: `sip:carol@127.0.0.1:${legUa.port}`, transfers: k.transfers });
        const invite = await legUa.nextMatching(/^INVITE /, 15_000);
        replyTo(legUa, invite, responseTo(invite, '180 Ringing', 'dialled-early', '', legUa.port));
        replyTo(legUa, invite, calleeRefer(invite, 'dialled-early', 1, legUa.port, 'sip:dave@127.0.0.1:5998'));
        const res = await referAnswer(legUa, 1);
        assert.equal(statusOf(res), k.status, res);
        assert.match(res, k.status === 491 ? /^Warning: 399 parley "the call is not connected yet: it has not been answered"\r?$/m : REFUSED, 'the Warning says why');

        replyTo(legUa, invite, responseTo(invite, '486 Busy Here', 'dialled-early'));
        await legUa.nextMatching(/^ACK /, 15_000);
        const r = await dialled;
        assert.equal(r.status, 502, r.text);
        await assertNothingLeft(parley());
      } finally {
        legUa.close();
      }
    });
  }
});

describe("a REFER from a transfer's target, in its early dialog (transfers: both)", { skip: VIA_DRACHTIO && REAL }, () => {
  const parley = rawParleyPerSuite(flowYaml('xfer', '    - answer\n    - bridge: { ringTimeout: 30, transfers: both }\n'));

  it('gets 491 (the target may transfer once connected); the target then fails busy, the transferor hears 486 and the call goes on', async () => {
    const callee = await startCallee('callee.xml', 600);
    const targetUa = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      await rawCall(parley(), { name: 'early-refer-target', user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c, ua) => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        phone.useRemoteSdp(bodyOf(ok));
        phone.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
        // The callee hears the caller once the bridge has connected them.
        await callee.rtp.waitForPackets(1, 15_000);

        // The caller transfers (an agent that dialled out); its REFER is sent again while the bridge
        // still says 491, not connected (bounded: the parties connect as the media starts).
        let accepted = '';
        for (let i = 0; i < 20 && statusOf(accepted) !== 202; i++) {
          ua.send(parley().sipPort, callerRefer(c, `sip:carol@127.0.0.1:${targetUa.port}`));
          accepted = await referAnswer(ua, c.cseq);
          if (statusOf(accepted) !== 491) break;
        }
        assert.equal(statusOf(accepted), 202, accepted);
        const invite = await targetUa.nextMatching(/^INVITE sip:carol@/, 15_000);
        replyTo(targetUa, invite, responseTo(invite, '180 Ringing', 'target-early', '', targetUa.port));
        replyTo(targetUa, invite, calleeRefer(invite, 'target-early', 1, targetUa.port, 'sip:dave@127.0.0.1:5998'));
        const res = await referAnswer(targetUa, 1);
        assert.equal(statusOf(res), 491, res);
        assert.match(res, /^Warning: 399 parley "the call is not connected yet: it has not been answered"\r?$/m, 'the Warning says why');

        replyTo(targetUa, invite, responseTo(invite, '486 Busy Here', 'target-early'));
        await targetUa.nextMatching(/^ACK /, 15_000);
        let notify: string;
        do {
          notify = await ua.nextMatching(/^NOTIFY /, 15_000, c.callId);
          ua.send(parley().sipPort, okTo(notify));
        } while (!/^Subscription-State:\s*terminated/im.test(notify));
        assert.match(bodyOf(notify), /^SIP\/2\.0 486 /, notify);
        assert.equal(parley().app.calls!.active.size, 1, 'the call goes on');
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
        sippOk(await callee.done, 'the callee (BYE at the end)');
        await assertNothingLeft(parley());
      });
    } finally {
      targetUa.close();
      callee.kill();
      await callee.rtp.close();
    }
  });
});

// A member's second REFER while its first transfer's target still rings: the transfer is under
// way, not refused for good. It was 403 (RFC 3261 §21.4.4: do not try again); now 491 (try again
// later, §21.4.27), as a bridge answers a second REFER, with a Warning saying why.
describe('a second REFER from a room member while its first transfer rings (transfers: members)', () => {
  const parley = rawParleyPerSuite(flowYaml('room', '    - answer\n    - conference: { room: busy-refer, transfers: members }\n'));

  it('gets 491 with a Warning; the first goes on (its target busy: NOTIFY 486) and the member stays', async () => {
    const targetUa = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    try {
      await rawCall(parley(), { name: 'busy-refer', phone }, async (c, ua) => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        await waitFor('the member in the room', async () => {
          const r = await call(apiBase(parley()), 'GET', '/rooms/busy-refer');
          return r.status === 200 && r.body.roster.some((e: { callId: string }) => e.callId === c.callId) ? true : undefined;
        }, 15_000);
        const member = new TransferorPhone(ua);
        try {
          ua.send(parley().sipPort, callerRefer(c, `sip:carol@127.0.0.1:${targetUa.port}`));
          const first = await member.next(/^SIP\/2\.0 [2-6]\d\d /);
          assert.equal(statusOf(first), 202, first);
          const invite = await targetUa.nextMatching(/^INVITE sip:carol@/, 15_000);
          replyTo(targetUa, invite, responseTo(invite, '180 Ringing', 'carol-rings'));

          ua.send(parley().sipPort, callerRefer(c, `sip:dave@127.0.0.1:${targetUa.port}`));
          const second = await member.next(/^SIP\/2\.0 [2-6]\d\d /);
          assert.equal(statusOf(second), 491, second);
          assert.match(second, /^Warning: 399 parley "a transfer of this member is already running"\r?$/m);

          replyTo(targetUa, invite, responseTo(invite, '486 Busy Here', 'carol-rings'));
          await targetUa.nextMatching(/^ACK /, 15_000);
          await waitFor('NOTIFY 486 to the member', () => member.notifies.some((n) => /^SIP\/2\.0 486 /m.test(bodyOf(n))) || undefined, 15_000);
          const room = await call(apiBase(parley()), 'GET', '/rooms/busy-refer');
          assert.deepEqual(room.body.roster.map((e: { callId: string }) => e.callId), [c.callId], 'the member stays, alone');
          c.cseq++;
          c.send('BYE');
          const bye = await member.next(/^SIP\/2\.0 [2-6]\d\d /);
          assert.match(bye, new RegExp(`^CSeq: ${c.cseq} BYE`, 'm'));
          assert.equal(statusOf(bye), 200, bye);
        } finally {
          member.close();
        }
        await ended;
        await assertNothingLeft(parley());
      });
    } finally {
      targetUa.close();
    }
  });
});

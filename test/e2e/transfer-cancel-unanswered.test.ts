// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A transfer's target that has not answered its INVITE at all (no provisional, so Parley may not
// CANCEL it yet, RFC 3261 §9.1) when the transfer's ring timeout comes: the transfer does not wait
// for that INVITE (timer B). The transferor has its NOTIFY 408 and the call goes on, or, when the
// transferor has hung up meanwhile, the call ends, at the ring timeout; the INVITE ends on its
// own, its CANCEL sent on the target's first provisional. The bridged caller transfers (transfers:
// both) over raw UDP; the target is a raw UDP client that stays silent, then rings. The tests'
// T1 is 100 ms (timer B 6.4 s): a transfer that waited for its target's INVITE failed at timer B,
// and the target's provisional then found no INVITE left to CANCEL. The call ending meanwhile
// (the transfer abandoned) leaves nothing either, and a late 2xx from the target gets ACK and BYE.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, flowYaml, okTo, rawCall, rawParleyPerSuite, replyTo, responseTo, statusOf, type RawDialog } from './raw-dialog.ts';

describe("a transfer's target that has not answered its INVITE at all when the ring timeout comes", () => {
  const parley = rawParleyPerSuite(`\ncalls: { guardIntervalSec: 0 }` + flowYaml('xfer', '    - answer\n    - bridge: { ringTimeout: 1, transfers: both }\n'));
  let targetUa: RawSipClient;
  let n = 0;

  before(async () => {
    targetUa = await RawSipClient.open();
  });

  after(() => targetUa?.close());

  /** Until the bridge has connected the callee (Parley sends it media), and a little after. */
  async function connected(calleeRtp: RtpPeer): Promise<void> {
    await waitFor('the callee connected', () => calleeRtp.received.length > 0 || undefined, 10_000);
    await new Promise((r) => setTimeout(r, 300));
  }

  /** The caller REFERs to the silent target (202); the target's INVITE. */
  async function referToSilentTarget(c: RawDialog, ua: RawSipClient): Promise<string> {
    c.cseq++;
    const target = `sip:carol${++n}@127.0.0.1:${targetUa.port}`;
    ua.send(parley().sipPort, c.req('REFER').replace('\r\nContent-Length:', `\r\nRefer-To: <${target}>\r\nContent-Length:`));
    const accepted = await c.finalTo(`${c.cseq} REFER`);
    assert.equal(statusOf(accepted), 202, accepted);
    return targetUa.nextMatching(new RegExp(`^INVITE sip:carol${n}@`), 10_000);
  }

  /** The target rings late: Parley's CANCEL (not a retransmission of the INVITE) comes, and ends the INVITE. */
  async function ringsLate(invite: string, tag: string): Promise<void> {
    const callId = /^Call-ID:\s*(.*)$/im.exec(invite)![1]!.trim();
    replyTo(targetUa, invite, responseTo(invite, '180 Ringing', tag));
    let cancel = await targetUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
    while (cancel.startsWith('INVITE ')) cancel = await targetUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
    assert.match(cancel, /^CANCEL /, cancel);
    replyTo(targetUa, cancel, responseTo(cancel, '200 OK', tag));
    replyTo(targetUa, invite, responseTo(invite, '487 Request Terminated', tag));
    let ack = await targetUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
    while (ack.startsWith('INVITE ') || ack.startsWith('CANCEL ')) ack = await targetUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
    assert.match(ack, /^ACK /, ack);
  }

  it('the transferor gets NOTIFY 408 at the ring timeout and the call goes on; a provisional afterwards gets the CANCEL', async () => {
    const callee = await startCallee('callee.xml', 600);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      await rawCall(parley(), { name: 'xfer-silent', user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c, ua) => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        phone.useRemoteSdp(bodyOf(ok));
        await connected(callee.rtp);
        const invite = await referToSilentTarget(c, ua);
        let notify: string;
        do {
          notify = await ua.nextMatching(/^NOTIFY /, 15_000, c.callId);
          ua.send(parley().sipPort, okTo(notify));
        } while (!/^Subscription-State:\s*terminated/im.test(notify));
        assert.match(bodyOf(notify), /^SIP\/2\.0 408 Request Timeout\r?$/m, notify);
        assert.equal(parley().app.calls!.active.size, 1, 'the call goes on');
        await ringsLate(invite, 'late-t1');
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
        sippOk(await callee.done, 'the callee (BYE at the end)');
        await assertNothingLeft(parley());
      });
    } finally {
      callee.kill();
      await callee.rtp.close();
    }
  });

  it('a transferor that hung up: the call ends at the ring timeout (BYE to the other party); a provisional afterwards gets the CANCEL', async () => {
    const callee = await startCallee('callee.xml', 600);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      await rawCall(parley(), { name: 'xfer-silent-gone', user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c, ua) => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        phone.useRemoteSdp(bodyOf(ok));
        await connected(callee.rtp);
        const invite = await referToSilentTarget(c, ua);
        // The transferor hangs up right after its 202 (RFC 5589 allows it): the call waits for the target.
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
        // The target fails at the ring timeout: nobody is left on the caller's side, the callee gets its BYE.
        sippOk(await callee.done, 'the callee (BYE when the transfer failed)');
        await assertNothingLeft(parley());
        await ringsLate(invite, 'late-t2');
      });
    } finally {
      callee.kill();
      await callee.rtp.close();
    }
  });

  it('the call ending while the target is silent: the transferor gets NOTIFY 487, nothing is left; a 2xx afterwards gets ACK and BYE', async () => {
    const callee = await startCallee('callee.xml', 600);
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      await rawCall(parley(), { name: 'xfer-silent-ended', user: 'bob', to: `sip:bob@127.0.0.1:${callee.port}`, phone }, async (c, ua) => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        phone.useRemoteSdp(bodyOf(ok));
        await connected(callee.rtp);
        const invite = await referToSilentTarget(c, ua);
        // The call ends (Parley hangs it up, as the API does) while the target's INVITE has no response.
        [...parley().app.calls!.active.values()][0]!.call.hangup();
        let notify: string;
        do {
          notify = await ua.nextMatching(/^NOTIFY /, 15_000, c.callId);
          ua.send(parley().sipPort, okTo(notify));
        } while (!/^Subscription-State:\s*terminated/im.test(notify));
        assert.match(bodyOf(notify), /^SIP\/2\.0 487 /, notify);
        ua.send(parley().sipPort, okTo(await ua.nextMatching(/^BYE /, 10_000, c.callId)));
        sippOk(await callee.done, 'the callee (BYE when the call ended)');
        await assertNothingLeft(parley());
        // The target answers late: its 2xx is ACKed and ended with a BYE (§13.2.2.4), nothing kept.
        const callId = /^Call-ID:\s*(.*)$/im.exec(invite)![1]!.trim();
        const target = await new RtpPeer({ codec: 'PCMU' }).bind();
        try {
          replyTo(targetUa, invite, responseTo(invite, '200 OK', 'late-t3', target.sdp(), targetUa.port));
          const next = async (): Promise<string> => {
            for (;;) {
              const m = await targetUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
              if (!/^(INVITE|CANCEL) /.test(m)) return m;
            }
          };
          assert.match(await next(), /^ACK /);
          const bye = await next();
          assert.match(bye, /^BYE /, bye);
          targetUa.send(parley().sipPort, responseTo(bye, '200 OK', 'late-t3'));
          await assertNothingLeft(parley());
        } finally {
          await target.close();
        }
      });
    } finally {
      callee.kill();
      await callee.rtp.close();
    }
  });
});

// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A peer that sends an offerless re-INVITE and never ACKs the 200 (with its answer):
// RFC 3261 §13.3.1.4, the UAS retransmits its 2xx and, with no ACK within 64*T1, ends
// the dialog with a BYE. In a bridged call both legs must end then, each BYE with a
// Reason, the recording closed and the call's end reported; nothing may stay behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { VIA_DRACHTIO } from '../helpers/real-drachtio.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { callEnd, received, sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, okTo, RawDialog, rawParleyPerSuite, RECORDED_BRIDGE_YAML, responseTo, statusOf } from './raw-dialog.ts';

/** The e2e harness's T1 (test/helpers/parley-harness.ts): timer H is 64*T1. */
const T1 = 100;

// The two cases wait out timer H (64*T1) each on calls of their own: they run side by side, each
// waiting for its own call's end (by Call-ID); each one's check that nothing is left waits for both.
describe('offerless re-INVITE whose ACK never comes, in a bridged call', { concurrency: true }, () => {
  const parley = rawParleyPerSuite(RECORDED_BRIDGE_YAML);

  it('the 200 is retransmitted, then after 64*T1 both legs get a BYE with a Reason, the recording closes and the call ends', async () => {
    const callee = await startCallee('callee.xml', 600);
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const c = new RawDialog(ua, parley().sipPort, 'noack', 'bob', `sip:bob@127.0.0.1:${callee.port}`);
    const ended = callEnd(parley(), c.callId, 60_000);
    try {
      const ok = await c.invite(phone.sdp());
      assert.equal(statusOf(ok), 200, ok);
      phone.useRemoteSdp(bodyOf(ok));
      phone.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
      await waitFor('the callee answered', () => callee.rtp.received.length > 0, 15_000);

      c.cseq++;
      c.send('INVITE');
      const first = await c.final();
      assert.equal(statusOf(first), 200, first);
      const sentAt = Date.now();
      // No ACK: the same 200 comes again (timer G), then the BYE (timer H).
      let retransmits = 0;
      let bye = '';
      for (;;) {
        const m = await ua.next(64 * T1 * 4);
        if (m.startsWith('BYE ')) {
          bye = m;
          break;
        }
        if (/^SIP\/2\.0 200 /.test(m) && m.includes(`CSeq: ${c.cseq} INVITE`)) retransmits++;
      }
      const after = Date.now() - sentAt;
      // A real drachtio-server 0.9.10 (PARLEY_TEST_VIA_DRACHTIO) retransmits only the initial
      // INVITE's 200, not a re-INVITE's; Parley's own ACK wait (68*T1) still ends the call.
      if (!VIA_DRACHTIO) assert.ok(retransmits >= 2, `the 200 was retransmitted (${retransmits} times)`);
      assert.ok(after >= 64 * T1 - 200, `the BYE came only after timer H (${after} ms)`);
      assert.match(bye, /\r\nReason:\s*SIP\s*;\s*cause=\d+/i, `the caller's BYE has no Reason:\n${bye}`);
      ua.send(parley().sipPort, okTo(bye));

      const calleeRun = await callee.done;
      sippOk(calleeRun, 'callee');
      const calleeBye = received(calleeRun).find((m) => /^BYE /m.test(m)) ?? '';
      assert.ok(calleeBye, 'the callee got a BYE');
      assert.match(calleeBye, /^Reason:\s*SIP\s*;\s*cause=\d+/im, `the callee's BYE has no Reason:\n${calleeBye}`);

      const { active } = await ended;
      await assertNothingLeft(parley());
      const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 10_000);
      assert.ok(meta.mix.file, 'the recording was closed');
    } finally {
      callee.kill();
      ua.close();
      await phone.close();
      await callee.rtp.close();
    }
  });

  it('from the callee: after 64*T1 without its ACK, its dialog and the caller\'s end with a BYE with a Reason', async () => {
    const ua = await RawSipClient.open();
    const calleeUa = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const calleePhone = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const c = new RawDialog(ua, parley().sipPort, 'noack-callee', 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
    const ended = callEnd(parley(), c.callId, 60_000);
    try {
      c.send('INVITE', phone.sdp());
      // The callee: answers Parley's B leg, then sends its own offerless re-INVITE.
      const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
      calleeUa.send(parley().sipPort, responseTo(invite, '200 OK', 'callee1', calleePhone.sdp(), calleeUa.port));
      await calleeUa.nextMatching(/^ACK /, 10_000);
      const ok = await c.final(15_000);
      assert.equal(statusOf(ok), 200, ok);
      c.confirm(ok);
      c.send('ACK', '', 1);
      phone.useRemoteSdp(bodyOf(ok));
      phone.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
      calleePhone.start({ kind: 'tone', freq: 600, amplitude: 8000 });
      await waitFor('the callee hears the caller', () => calleePhone.received.length > 10, 10_000);

      calleeUa.send(parley().sipPort, inDialogInvite(invite, calleeUa.port));
      const first = await calleeUa.nextMatching(/^SIP\/2\.0 200 /, 10_000);
      assert.match(first, /CSeq: 7 INVITE/);
      assert.match(bodyOf(first), /^m=audio /m, 'Parley offers in the 200');
      const sentAt = Date.now();
      const bye = await calleeUa.nextMatching(/^BYE /, 64 * T1 * 4);
      const after = Date.now() - sentAt;
      assert.ok(after >= 64 * T1 - 200, `the BYE came only after timer H (${after} ms)`);
      assert.match(bye, /\r\nReason:\s*SIP\s*;\s*cause=\d+/i, `the callee's BYE has no Reason:\n${bye}`);
      calleeUa.send(parley().sipPort, okTo(bye));
      const callerBye = await ua.nextMatching(/^BYE /, 10_000);
      assert.match(callerBye, /\r\nReason:\s*SIP\s*;\s*cause=\d+/i, `the caller's BYE has no Reason:\n${callerBye}`);
      ua.send(parley().sipPort, okTo(callerBye));

      const { active } = await ended;
      await assertNothingLeft(parley());
      const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 10_000);
      assert.ok(meta.mix.file, 'the recording was closed');
    } finally {
      ua.close();
      calleeUa.close();
      await phone.close();
      await calleePhone.close();
    }
  });
});

/** The callee's re-INVITE without SDP in the dialog Parley's `invite` made (we are its UAS: From and To swap). */
function inviteHeaders(invite: string): { callId: string; from: string; to: string; contact: string } {
  const h = (name: string): string => new RegExp(`\\r\\n${name}:\\s*([^\\r]+)`, 'i').exec(invite)![1]!;
  return { callId: h('Call-ID'), from: h('From'), to: h('To'), contact: /<([^>]+)>/.exec(h('Contact'))![1]! };
}

function inDialogInvite(invite: string, port: number): string {
  const d = inviteHeaders(invite);
  return [
    `INVITE ${d.contact} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-noack-${process.pid}-7`,
    'Max-Forwards: 70',
    `From: ${d.to};tag=callee1`,
    `To: ${d.from}`,
    `Call-ID: ${d.callId}`,
    'CSeq: 7 INVITE',
    `Contact: <sip:callee@127.0.0.1:${port}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

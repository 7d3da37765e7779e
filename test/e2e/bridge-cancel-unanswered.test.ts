// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A caller that hangs up (CANCEL) while the B leg's INVITE has had no response yet: Parley may
// not CANCEL that INVITE before a provisional (RFC 3261 §9.1), but the call does not wait for
// it: the caller has its 487, and call, room and recording are gone while the callee is still
// silent. What the callee sends afterwards ends the B leg on its own: a provisional gets the
// CANCEL, a 2xx gets ACK and BYE (§13.2.2.4). Raw UDP caller and callee; the guard is off
// (calls.guardIntervalSec 0), so nothing but the call's own end can close it before timer B.
// The tests' T1 is 100 ms (timer B 6.4 s): a call that waited for its B leg's INVITE was left
// until timer B, and the callee's provisional then found no INVITE left to CANCEL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempApiYaml } from '../helpers/api-client.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { assertNothingLeft } from './leftovers.ts';
import { RawDialog, replyTo, responseTo, statusOf } from './raw-dialog.ts';

const yaml = `
calls: { guardIntervalSec: 0 }
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw:
    - answer: { early: true }
    - record: { action: start }
    - bridge: { ringTimeout: 30 }
`;

describe("the caller's CANCEL while the callee has not answered the B leg's INVITE at all", () => {
  let parley: RunningParley;
  let ua: RawSipClient;
  let calleeUa: RawSipClient;
  let phone: RtpPeer;
  let n = 0;
  /** The Call-IDs of the B legs' INVITEs so far. */
  const seen = new Set<string>();

  before(async () => {
    parley = await startParley(yaml + tempApiYaml('bridge-cancel-'));
    ua = await RawSipClient.open();
    calleeUa = await RawSipClient.open();
    phone = await new RtpPeer({ codec: 'PCMU' }).bind();
  });

  after(async () => {
    ua?.close();
    calleeUa?.close();
    await phone?.close();
    await parley?.stop();
  });

  /** A call whose B leg's INVITE reached the callee, then the caller's CANCEL: the 487, nothing left; Parley's INVITE. */
  async function cancelWhileSilent(): Promise<string> {
    const c = new RawDialog(ua, parley.sipPort, `bcu${++n}`, 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
    c.send('INVITE', phone.sdp());
    let invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
    // A retransmission of an earlier case's INVITE is skipped.
    while (seen.has(callIdOf(invite))) invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
    seen.add(callIdOf(invite));
    c.send('CANCEL', '', 1, 'INVITE');
    const final = await ua.nextMatching(/^SIP\/2\.0 [3-6]\d\d /, 10_000, c.callId);
    assert.equal(statusOf(final), 487, final);
    c.ackFailure(1);
    // The callee has said nothing yet (timer B is 32 s out): the call is over all the same.
    await assertNothingLeft(parley);
    return invite;
  }

  /** The next request from Parley to the callee other than a retransmission of `invite`. */
  async function nextNew(callId: string): Promise<string> {
    for (;;) {
      const m = await calleeUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
      if (!m.startsWith('INVITE ')) return m;
    }
  }

  it('nothing left at once; a provisional afterwards gets the CANCEL (§9.1), its 487 ends the B leg', async () => {
    const invite = await cancelWhileSilent();
    const callId = callIdOf(invite);
    replyTo(calleeUa, invite, responseTo(invite, '180 Ringing', 'late1'));
    const cancel = await nextNew(callId);
    assert.match(cancel, /^CANCEL /, cancel);
    assert.match(cancel, new RegExp(`^CSeq:\\s*${/^CSeq:\s*(\d+)/im.exec(invite)![1]} CANCEL`, 'im'));
    replyTo(calleeUa, cancel, responseTo(cancel, '200 OK', 'late1'));
    replyTo(calleeUa, invite, responseTo(invite, '487 Request Terminated', 'late1'));
    const ack = await nextNew(callId);
    assert.match(ack, /^ACK /, ack);
    await assertNothingLeft(parley);
  });

  it('nothing left at once; a 2xx afterwards (no provisional) is ACKed and ended with a BYE (§13.2.2.4)', async () => {
    const invite = await cancelWhileSilent();
    const callId = callIdOf(invite);
    const callee = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      replyTo(calleeUa, invite, responseTo(invite, '200 OK', 'late2', callee.sdp(), calleeUa.port));
      const ack = await nextNew(callId);
      assert.match(ack, /^ACK /, ack);
      const bye = await nextNew(callId);
      assert.match(bye, /^BYE /, bye);
      calleeUa.send(parley.sipPort, responseTo(bye, '200 OK', 'late2'));
      await assertNothingLeft(parley);
    } finally {
      await callee.close();
    }
  });

  it('nothing left at once; a callee that never answers gets no CANCEL (no provisional, §9.1), only the INVITE until timer B', async () => {
    const invite = await cancelWhileSilent();
    const callId = callIdOf(invite);
    // Timer B (64*T1 = 6.4 s here) ends the INVITE; until then and a little after, nothing but its retransmissions.
    const got: string[] = [];
    const until = Date.now() + 7_500;
    while (Date.now() < until) {
      const m = await calleeUa.nextMatching(/^[A-Z]+ /, Math.max(1, until - Date.now()), callId).catch(() => null);
      if (m) got.push(m.split('\r\n')[0]!);
    }
    assert.deepEqual(got.filter((l) => !l.startsWith('INVITE ')), [], 'nothing but the INVITE reached the callee');
    await assertNothingLeft(parley);
  });
});

function callIdOf(msg: string): string {
  return /^Call-ID:\s*(.*)$/im.exec(msg)![1]!.trim();
}

describe('the ring timeout while the callee has not answered the B leg\'s INVITE at all', () => {
  let parley: RunningParley;
  let ua: RawSipClient;
  let calleeUa: RawSipClient;
  let phone: RtpPeer;

  before(async () => {
    parley = await startParley(`
calls: { guardIntervalSec: 0 }
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw:
    - bridge: { ringTimeout: 1, fallback: unavailable }
  unavailable:
    - hangup: { status: 480 }
` + tempApiYaml('bridge-ring-'));
    ua = await RawSipClient.open();
    calleeUa = await RawSipClient.open();
    phone = await new RtpPeer({ codec: 'PCMU' }).bind();
  });

  after(async () => {
    ua?.close();
    calleeUa?.close();
    await phone?.close();
    await parley?.stop();
  });

  it('the fallback runs at the ring timeout, not at timer B; a provisional afterwards gets the CANCEL', async () => {
    const c = new RawDialog(ua, parley.sipPort, 'bcu-ring', 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
    c.send('INVITE', phone.sdp());
    const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
    const final = await ua.nextMatching(/^SIP\/2\.0 [3-6]\d\d /, 15_000, c.callId);
    assert.equal(statusOf(final), 480, final);
    c.ackFailure(1);
    await assertNothingLeft(parley);
    // The INVITE is still pending (timer B is 6.4 s here): its CANCEL goes on the first provisional.
    const callId = callIdOf(invite);
    replyTo(calleeUa, invite, responseTo(invite, '180 Ringing', 'late4'));
    let cancel = await calleeUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
    while (cancel.startsWith('INVITE ')) cancel = await calleeUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
    assert.match(cancel, /^CANCEL /, cancel);
    replyTo(calleeUa, cancel, responseTo(cancel, '200 OK', 'late4'));
    replyTo(calleeUa, invite, responseTo(invite, '487 Request Terminated', 'late4'));
  });
});

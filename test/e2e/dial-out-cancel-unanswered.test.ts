// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A dial-out (POST /rooms/:name/dial) whose room is deleted while its INVITE has had no response
// yet: Parley may not CANCEL before a provisional (RFC 3261 §9.1), but the dial and the room do
// not wait for it: the API answers 502 (487) and the room is gone while the callee is still
// silent. A provisional afterwards gets the CANCEL; a 2xx gets ACK and BYE (§13.2.2.4). The
// tests' T1 is 100 ms (timer B 6.4 s): a dial that waited for its INVITE answered at timer B,
// and the callee's provisional then found no INVITE left to CANCEL. The ring timeout over a
// silent callee ends the dial the same way (408).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiBase, call, tempApiYaml } from '../helpers/api-client.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { replyTo, responseTo } from './raw-dialog.ts';

const yaml = `
routing:
  rules: []
`;

describe('a dial-out whose room is deleted before the callee said anything', () => {
  let parley: RunningParley;
  let base: string;
  let calleeUa: RawSipClient;
  let n = 0;

  before(async () => {
    parley = await startParley(yaml + tempApiYaml('dial-cancel-'));
    base = apiBase(parley);
    calleeUa = await RawSipClient.open();
  });

  after(async () => {
    calleeUa?.close();
    await parley?.stop();
  });

  /** Dials the silent callee into a new room, deletes the room; the dial's 502 (487) and no room asserted; Parley's INVITE. */
  async function deleteWhileSilent(): Promise<{ invite: string; callId: string }> {
    const name = `silent${++n}`;
    assert.equal((await call(base, 'POST', '/rooms', { name })).status, 201);
    const dialled = call(base, 'POST', `/rooms/${name}/dial`, { to: `sip:bob@127.0.0.1:${calleeUa.port}`, ringTimeout: 30 });
    const invite = await calleeUa.nextMatching(/^INVITE /, 10_000);
    assert.equal((await call(base, 'DELETE', `/rooms/${name}`)).status, 200);
    const r = await dialled;
    assert.equal(r.status, 502, r.text);
    assert.equal(r.body.status, 487, r.text);
    assert.equal((await call(base, 'GET', `/rooms/${name}`)).status, 404);
    return { invite, callId: /^Call-ID:\s*(.*)$/im.exec(invite)![1]!.trim() };
  }

  /** The next request from Parley to the callee other than a retransmission of the INVITE. */
  async function nextNew(callId: string): Promise<string> {
    for (;;) {
      const m = await calleeUa.nextMatching(/^[A-Z]+ /, 10_000, callId);
      if (!m.startsWith('INVITE ')) return m;
    }
  }

  it('the dial ends at once; a provisional afterwards gets the CANCEL (§9.1)', async () => {
    const { invite, callId } = await deleteWhileSilent();
    replyTo(calleeUa, invite, responseTo(invite, '180 Ringing', 'late1'));
    const cancel = await nextNew(callId);
    assert.match(cancel, /^CANCEL /, cancel);
    replyTo(calleeUa, cancel, responseTo(cancel, '200 OK', 'late1'));
    replyTo(calleeUa, invite, responseTo(invite, '487 Request Terminated', 'late1'));
    assert.match(await nextNew(callId), /^ACK /);
  });

  it('the dial ends at once; a 2xx afterwards is ACKed and ended with a BYE (§13.2.2.4)', async () => {
    const { invite, callId } = await deleteWhileSilent();
    const callee = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      replyTo(calleeUa, invite, responseTo(invite, '200 OK', 'late2', callee.sdp(), calleeUa.port));
      assert.match(await nextNew(callId), /^ACK /);
      const bye = await nextNew(callId);
      assert.match(bye, /^BYE /, bye);
      calleeUa.send(parley.sipPort, responseTo(bye, '200 OK', 'late2'));
    } finally {
      await callee.close();
    }
  });

  it('the ring timeout ends the dial at once; a provisional afterwards gets the CANCEL (§9.1)', async () => {
    const name = `silent${++n}`;
    assert.equal((await call(base, 'POST', '/rooms', { name })).status, 201);
    const dialled = call(base, 'POST', `/rooms/${name}/dial`, { to: `sip:bob@127.0.0.1:${calleeUa.port}`, ringTimeout: 1 });
    const invite = await calleeUa.nextMatching(/^INVITE /, 10_000);
    const callId = /^Call-ID:\s*(.*)$/im.exec(invite)![1]!.trim();
    // The callee says nothing: the API answers at the ring timeout (408), and the roster has no
    // entry left for it. A dial that waited for timer B answered then, its INVITE over, and the
    // provisional below found nothing to CANCEL.
    const r = await dialled;
    assert.equal(r.status, 502, r.text);
    assert.equal(r.body.status, 408, r.text);
    const room = await call(base, 'GET', `/rooms/${name}`);
    if (room.status === 200) assert.deepEqual(room.body.roster, [], room.text);
    replyTo(calleeUa, invite, responseTo(invite, '180 Ringing', 'late3'));
    const cancel = await nextNew(callId);
    assert.match(cancel, /^CANCEL /, cancel);
    replyTo(calleeUa, cancel, responseTo(cancel, '200 OK', 'late3'));
    replyTo(calleeUa, invite, responseTo(invite, '487 Request Terminated', 'late3'));
    assert.match(await nextNew(callId), /^ACK /);
  });
});

// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// RFC 7332 §3: the bridge's B leg carries the caller's Max-Forwards less one (it was reset to 70,
// so a loop through B2BUAs never ended), and a caller's INVITE with none left (0) is refused
// with 483 Too Many Hops (RFC 3261 §16.3 step 2) without dialling anyone. A transfer's target
// (a REFER from either party) gets the REFER's Max-Forwards less one, never more than the B
// leg's; a REFER with none left gets 483.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RawSipClient, contactUri, header, inDialogFrom, request } from '../helpers/raw-sip-client.ts';
import { answer, viaPort } from '../helpers/relay-call.ts';
import { SDP } from '../helpers/sip-harness.ts';

const yaml = `
routing:
  rules:
    - name: all
      match: { method: INVITE }
      actions: [{ app: plain }]
flows:
  plain:
    - bridge: { ringTimeout: 5, transfers: both }
`;

describe("the bridge's B leg Max-Forwards (RFC 7332)", () => {
  let parley: RunningParley;
  let caller: RawSipClient;
  let callee: RawSipClient;

  before(async () => {
    parley = await startParley(yaml);
    caller = await RawSipClient.open();
    callee = await RawSipClient.open();
  });
  after(async () => {
    caller?.close();
    callee?.close();
    await parley?.stop();
  });

  /** The caller's INVITE with Max-Forwards `mf` to a callee at `callee`'s port; its Call-ID. */
  function call(mf: string): string {
    const r = request('INVITE', caller.port, { To: `<sip:bob@127.0.0.1:${callee.port}>`, 'Max-Forwards': mf, 'Content-Type': 'application/sdp' }, SDP);
    caller.send(parley.sipPort, r.text);
    return r.callId;
  }

  /** The caller's final response, ACKed (RFC 3261 §17.1.1.3). */
  async function final(callId: string, ms = 8000): Promise<string> {
    const res = await caller.nextMatching(/^SIP\/2\.0 [3-6]\d\d/, ms, callId);
    const ack = [
      `ACK sip:parley@127.0.0.1 SIP/2.0`,
      `Via: ${header(res, 'Via')}`,
      'Max-Forwards: 70',
      `From: ${header(res, 'From')}`,
      `To: ${header(res, 'To')}`,
      `Call-ID: ${callId}`,
      `CSeq: 1 ACK`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    caller.send(parley.sipPort, ack);
    return res;
  }

  for (const [mf, expected] of [['5', '4'], ['1', '0']] as const) {
    it(`a caller's Max-Forwards ${mf} gives the B leg ${expected}`, async () => {
      const callId = call(mf);
      const invite = await callee.nextMatching(/^INVITE /, 8000);
      assert.equal(header(invite, 'Max-Forwards'), expected);
      callee.send(viaPort(invite), answer(invite, '486 Busy Here'));
      await callee.nextMatching(/^ACK /, 3000, header(invite, 'Call-ID'));
      assert.match(await final(callId), /^SIP\/2\.0 486/);
    });
  }

  /** A bridged call whose caller sent Max-Forwards `mf`: the callee's INVITE and the caller's 200, both ACKed. */
  async function bridged(mf: string): Promise<{ invite: string; ok: string }> {
    const callId = call(mf);
    const invite = await callee.nextMatching(/^INVITE /, 8000);
    callee.send(viaPort(invite), answer(invite, '200 OK', SDP, callee.port));
    await callee.nextMatching(/^ACK /, 3000, header(invite, 'Call-ID'));
    const ok = await caller.nextMatching(/^SIP\/2\.0 200/, 8000, callId);
    caller.send(parley.sipPort, inDialogFrom(ok, '', 'ACK', 1, caller.port, contactUri(ok), 'application/sdp', ''));
    return { invite, ok };
  }

  /** `from` sends REFER `msg` (built by inDialogFrom) with Max-Forwards `mf` (null: none) to `target`; its response. */
  async function refer(from: RawSipClient, msg: string, mf: string | null, target: RawSipClient): Promise<string> {
    let r = msg.replace('\r\nMax-Forwards: 70', mf === null ? '' : `\r\nMax-Forwards: ${mf}`);
    r = r.replace('\r\nContent-Length:', `\r\nRefer-To: <sip:carol@127.0.0.1:${target.port}>\r\nContent-Length:`);
    from.send(parley.sipPort, r);
    return from.nextMatching(/^SIP\/2\.0 [2-6]\d\d/, 5000, header(r, 'Call-ID'));
  }

  for (const [referMf, expected] of [['2', '1'], ['70', '4'], [null, '4']] as const) {
    it(`a callee's REFER with Max-Forwards ${referMf ?? 'absent'} (the caller's 5): the target gets ${expected}`, async () => {
      const target = await RawSipClient.open();
      try {
        const { invite } = await bridged('5');
        const msg = inDialogFrom(invite, 'callee1', 'REFER', 1, callee.port, contactUri(invite), 'text/plain', '');
        assert.match(await refer(callee, msg, referMf, target), /^SIP\/2\.0 202/);
        const tInvite = await target.nextMatching(/^INVITE /, 8000);
        assert.equal(header(tInvite, 'Max-Forwards'), expected);
        target.send(viaPort(tInvite), answer(tInvite, '486 Busy Here'));
      } finally {
        target.close();
      }
    });
  }

  it("a caller's REFER (transfers: both) gives the target the caller's Max-Forwards less one, not 70", async () => {
    const target = await RawSipClient.open();
    try {
      const { ok } = await bridged('5');
      const msg = inDialogFrom(ok, '', 'REFER', 2, caller.port, contactUri(ok), 'text/plain', '');
      assert.match(await refer(caller, msg, '70', target), /^SIP\/2\.0 202/);
      const tInvite = await target.nextMatching(/^INVITE /, 8000);
      assert.equal(header(tInvite, 'Max-Forwards'), '4');
      target.send(viaPort(tInvite), answer(tInvite, '486 Busy Here'));
    } finally {
      target.close();
    }
  });

  it("a REFER with Max-Forwards 0 is answered 483 and nobody is dialled", async () => {
    const target = await RawSipClient.open();
    try {
      const { invite } = await bridged('5');
      const msg = inDialogFrom(invite, 'callee1', 'REFER', 1, callee.port, contactUri(invite), 'text/plain', '');
      assert.match(await refer(callee, msg, '0', target), /^SIP\/2\.0 483/);
      await assert.rejects(target.nextMatching(/^INVITE /, 500), 'no target dialled');
    } finally {
      target.close();
    }
  });

  it("a caller's Max-Forwards 0 is answered 483 and nobody is dialled", async () => {
    const callId = call('0');
    assert.match(await final(callId), /^SIP\/2\.0 483/);
    await assert.rejects(callee.nextMatching(/^INVITE /, 500), 'no B leg');
  });
});

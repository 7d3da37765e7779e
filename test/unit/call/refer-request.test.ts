// The Refer-To of a callee's REFER: what Parley dials, and what it refuses (and how).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findConsultation, NOT_A_BRIDGE, type ConsultationPeer } from '../../../src/call/consultation.ts';
import type { ManagedCall } from '../../../src/call/call-manager.ts';
import { referTarget, replacesId, replacesValue, transferMaxForwards, type ReplacesId } from '../../../src/call/refer-request.ts';
import type { SipCall } from '../../../src/call/sip-call.ts';

describe('referTarget', () => {
  it('takes the URI of a name-addr or an addr-spec (sip:, sips:, tel:)', () => {
    assert.deepEqual(referTarget('<sip:carol@example.com>'), { uri: 'sip:carol@example.com' });
    assert.deepEqual(referTarget('"Carol" <sips:carol@example.com:5061;transport=tls>;x=1'), { uri: 'sips:carol@example.com:5061;transport=tls' });
    assert.deepEqual(referTarget('sip:carol@10.0.0.5:5080'), { uri: 'sip:carol@10.0.0.5:5080' });
    assert.deepEqual(referTarget('<tel:+4930123456>'), { uri: 'tel:+4930123456' });
    assert.deepEqual(referTarget('"<sip:carol@evil.example>" <sip:bob@example.com>'), { uri: 'sip:bob@example.com' }, 'a <…> in the quoted name is the name');
  });

  it('leaves embedded headers other than Replaces out of the URI', () => {
    assert.deepEqual(referTarget('<sip:carol@example.com?Subject=hello>'), { uri: 'sip:carol@example.com' });
  });

  it('gives back an attended transfer\'s Replaces (escaped or not), and refuses a malformed one with 400', () => {
    assert.deepEqual(referTarget('<sip:carol@example.com?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>'), { uri: 'sip:carol@example.com', replaces: 'abc@host;to-tag=1;from-tag=2' });
    assert.deepEqual(referTarget('<sip:carol@example.com?Subject=x&replaces=abc@host;to-tag=1;from-tag=2>'), { uri: 'sip:carol@example.com', replaces: 'abc@host;to-tag=1;from-tag=2' });
    assert.deepEqual(replacesId('abc@host;to-tag=1;from-tag=2'), { callId: 'abc@host', toTag: '1', fromTag: '2' });
    assert.deepEqual(replacesId('abc@host ; From-Tag=2;early-only;to-tag= 1'), { callId: 'abc@host', toTag: '1', fromTag: '2' });
    assert.equal(replacesValue({ callId: 'c@h', toTag: 't', fromTag: 'f' }), 'c@h;to-tag=t;from-tag=f');
    for (const v of [
      '<sip:carol@example.com?Replaces=abc%40host%3Bto-tag%3D1>',
      '<sip:carol@example.com?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2%0D%0AX-Evil%3A%201>',
      '<sip:carol@example.com?Replaces=>',
    ]) {
      const t = referTarget(v);
      assert.ok('status' in t && t.status === 400, `${v}: ${JSON.stringify(t)}`);
    }
  });

  it('refuses what is no SIP or tel URI with 403, and a missing Refer-To with 400', () => {
    for (const v of ['carol@example.com', '<http://example.com/>', '<mailto:carol@example.com>', '<sip:>', '<>']) {
      const t = referTarget(v);
      assert.ok('status' in t && t.status === 403, `${v}: ${JSON.stringify(t)}`);
    }
    for (const v of [undefined, '', '  ']) {
      const t = referTarget(v);
      assert.ok('status' in t && t.status === 400, `${String(v)}: ${JSON.stringify(t)}`);
    }
  });
});

describe('findConsultation (an attended transfer naming a dialog of this Parley)', () => {
  const id: ReplacesId = { callId: 'consult@h', toTag: 'p', fromTag: 'a' };
  const fake = (peer: ConsultationPeer): SipCall => ({ callId: 'a-call@h', currentBridge: { consultationPeer: (x: ReplacesId) => (x === id ? peer : null), connecting: null } }) as unknown as SipCall;
  const siprec = {} as unknown as ManagedCall;
  const find = (calls: ManagedCall[], from: SipCall | null, waitMs?: number) => findConsultation(() => calls, id, from, waitMs);

  it('null when no call has the dialog (SIPREC sessions have none)', async () => {
    const from = fake(null);
    assert.equal(await find([siprec, fake(null), from], from), null);
  });

  it('the call that has it, with its other party\'s Contact and Replaces', async () => {
    const from = fake(null);
    const other = fake({ uri: 'sip:sup@10.0.0.7:5062', replaces: 'b-leg@h;to-tag=s;from-tag=q' });
    assert.deepEqual(await find([siprec, from, other], from), { call: other, uri: 'sip:sup@10.0.0.7:5062', replaces: 'b-leg@h;to-tag=s;from-tag=q' });
  });

  it('refused when the call says so, when it is the transfer\'s own call, and when it names a call in no bridge', async () => {
    const from = fake(null);
    assert.deepEqual(await find([fake({ refused: 'not connected' })], from), { refused: 'not connected' });
    const self = fake({ uri: 'sip:x@h', replaces: 'r;to-tag=1;from-tag=2' });
    const r = await find([self], self);
    assert.ok(r !== null && 'refused' in r && /own call/.test(r.refused), JSON.stringify(r));
    const ivr = { callId: 'consult@h', currentBridge: null } as unknown as SipCall;
    assert.deepEqual(await find([ivr], from), { refused: NOT_A_BRIDGE });
  });

  it('waits for a bridge whose callee answered and whose parties are not set yet (a REFER right behind its 200), then finds its other party', async () => {
    // The named call's bridge: connecting for 80 ms, then its parties answer for the dialog.
    let peer: ConsultationPeer = null;
    let connected!: () => void;
    const bridge = {
      connecting: new Promise<void>((r) => (connected = r)) as Promise<void> | null,
      consultationPeer: (x: ReplacesId) => (x === id ? peer : null),
    };
    const consulting = { callId: 'consult@h', currentBridge: bridge } as unknown as SipCall;
    let connectedAt = -1;
    setTimeout(() => {
      connectedAt = performance.now();
      peer = { uri: 'sip:sup@10.0.0.7:5062', replaces: 'b@h;to-tag=s;from-tag=q' };
      bridge.connecting = null;
      connected();
    }, 80);
    const r = await find([consulting], fake(null));
    // Ordered, not timed: a timer counts from the event loop's cached time, which a busy loop leaves behind.
    assert.ok(connectedAt >= 0 && performance.now() >= connectedAt, 'it waited for the connection');
    assert.deepEqual(r, { call: consulting, uri: 'sip:sup@10.0.0.7:5062', replaces: 'b@h;to-tag=s;from-tag=q' });
  });

  it('refuses a bridge that is still connecting after the wait, and one whose connecting ends without parties (the callee\'s answer could not be used)', async () => {
    const stuck = { callId: 'consult@h', currentBridge: { connecting: new Promise<void>(() => undefined), consultationPeer: () => null } } as unknown as SipCall;
    const r = await find([stuck], fake(null), 50);
    assert.ok(r !== null && 'refused' in r && /still connecting/.test(r.refused), JSON.stringify(r));
    const bridge = { connecting: Promise.resolve() as Promise<void> | null, consultationPeer: () => null };
    const failed = { callId: 'consult@h', currentBridge: bridge } as unknown as SipCall;
    void bridge.connecting!.then(() => (bridge.connecting = null));
    assert.deepEqual(await find([failed], fake(null)), { refused: NOT_A_BRIDGE });
  });
});

describe('transferMaxForwards (RFC 7332 §3)', () => {
  const refer = (mf?: string) => ({ get: (name: string) => (name === 'Max-Forwards' ? mf : undefined) });
  it("is the REFER's Max-Forwards less one, never more than the cap (the B leg's, the member's)", () => {
    assert.equal(transferMaxForwards(refer('70')), 69, 'no cap: a leg Parley dialled');
    assert.equal(transferMaxForwards(refer('70'), 4), 4, "a phone's REFER starts at 70 again: the call's own count holds");
    assert.equal(transferMaxForwards(refer('3'), 68), 2);
    assert.equal(transferMaxForwards(refer(), 68), 68, 'absent: the cap');
    assert.equal(transferMaxForwards(refer('junk'), 68), 68, 'unreadable: the cap');
    assert.equal(transferMaxForwards(refer('1'), 68), 0);
  });
  it('is null (483) when none is left', () => {
    assert.equal(transferMaxForwards(refer('0'), 68), null);
    assert.equal(transferMaxForwards(refer('70'), -1), null, "the call's own INVITE had none left");
  });
});

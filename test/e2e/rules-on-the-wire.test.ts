// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// The rule chain checked on the wire with SIPp on both sides: a 302 rule returns
// its Contact; retarget then proxy reaches the new target; a header removal is
// gone from the forwarded INVITE; an IM INVITE (m=message) is proxied, not
// answered; with proxyByDefault off an unmatched request is declined.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/free-port.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { received, sippOk, startCallee, startCaller } from './helpers.ts';

/** The first INVITE a SIPp peer received. */
function firstInvite(messages: string[]): string {
  const m = messages.find((x) => /^INVITE /m.test(x));
  assert.ok(m, 'the callee received an INVITE');
  return m;
}

describe('rule chain on the wire (SIPp caller and callee)', () => {
  let parley: RunningParley;
  let strict: RunningParley;
  const ports = { retarget: 0, lync: 0, im: 0 };
  let callsStarted = 0;

  before(async () => {
    ports.retarget = await freePort();
    ports.lync = await freePort();
    ports.im = await freePort();
    parley = await startParley(`
routing:
  proxyByDefault: true
  rules:
    - name: moved
      match: { to: "sip:old-*" }
      actions: [{ redirect: { contacts: ["sip:new@example.com"] } }]
    - name: retarget
      match: { to: "sip:retarget@*" }
      actions: [{ retarget: "sip:mobile@127.0.0.1:${ports.retarget}" }]
    - name: to-mobile
      match: { requestUri: "sip:mobile@*" }
      actions: [{ proxy: null }]
    - name: strip-lync
      match: { headers: { Ms-Target-Class: { present: true } } }
      actions: [{ headers: { remove: [Ms-Target-Class, Ms-Sensitivity], add: { X-Seen-By: parley } } }, { proxy: null }]
    - name: gateway
      match: { method: INVITE, media: audio, to: "sip:gw@*" }
      actions: [{ app: gw }]
flows:
  gw: [answer, hangup]
`);
    parley.app.calls!.on('callstart', () => callsStarted++);
    strict = await startParley(`
routing:
  proxyByDefault: false
  declineStatus: 403
  rules:
    - name: only-gw
      match: { to: "sip:gw@*" }
      actions: [{ app: gw }]
flows:
  gw: [answer, hangup]
`);
  });

  after(async () => {
    await parley?.stop();
    await strict?.stop();
  });

  it('a redirect rule answers 302 with its Contact', async () => {
    const caller = await startCaller(parley, 'caller-expect-302.xml', 'sip:old-bob@127.0.0.1:5999');
    const run = await caller.done;
    sippOk(run, 'caller');
    const r = received(run).find((m) => /SIP\/2\.0 302/.test(m)) ?? '';
    assert.match(r, /^Contact: <sip:new@example\.com>/m);
    await caller.rtp.close();
  });

  it('retarget then proxy reaches the new target with the new Request-URI', async () => {
    const callee = await startCallee('callee-busy.xml', null, [], ports.retarget);
    const caller = await startCaller(parley, 'caller-expect-486.xml', 'sip:retarget@127.0.0.1:5999');
    sippOk(await caller.done, 'caller');
    const run = await callee.done;
    sippOk(run, 'callee');
    assert.match(firstInvite(received(run)), new RegExp(`^INVITE sip:mobile@127\\.0\\.0\\.1:${ports.retarget} SIP/2\\.0`, 'm'));
    await caller.rtp.close();
    await callee.rtp.close();
  });

  it('removed headers are gone from the forwarded INVITE, added ones are there, others untouched', async () => {
    const callee = await startCallee('callee-busy.xml', null, [], ports.lync);
    const caller = await startCaller(parley, 'caller-lync-expect-486.xml', `sip:bob@127.0.0.1:${ports.lync}`);
    sippOk(await caller.done, 'caller');
    const run = await callee.done;
    sippOk(run, 'callee');
    const invite = firstInvite(received(run));
    assert.doesNotMatch(invite, /^Ms-Target-Class:/im);
    assert.doesNotMatch(invite, /^Ms-Sensitivity:/im);
    assert.match(invite, /^X-Seen-By: parley/m);
    assert.match(invite, /^X-Keep: yes/m);
    await caller.rtp.close();
    await callee.rtp.close();
  });

  it('an IM INVITE (m=message) is proxied on, never answered by a flow', async () => {
    const before = callsStarted;
    const callee = await startCallee('callee-busy.xml', null, [], ports.im);
    const caller = await startCaller(parley, 'caller-im-expect-486.xml', `sip:bob@127.0.0.1:${ports.im}`);
    sippOk(await caller.done, 'caller');
    const run = await callee.done;
    sippOk(run, 'callee');
    assert.match(firstInvite(received(run)), /^m=message /m);
    assert.equal(callsStarted, before, 'no call was started');
    await caller.rtp.close();
    await callee.rtp.close();
  });

  it('with proxyByDefault off an unmatched INVITE is declined with 403', async () => {
    const caller = await startCaller(strict, 'caller-expect-403.xml', 'sip:someone@127.0.0.1:5999');
    sippOk(await caller.done, 'caller');
    await caller.rtp.close();
  });
});

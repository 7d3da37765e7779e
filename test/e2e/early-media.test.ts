// A callee's early media (183 with SDP) reaches a caller held in early media, and
// a bridge copies the caller's headers it is told to and no others. The callee
// answers 2.5 s after its 183 and plays a tone from the start: with early media
// passed through, the caller hears that tone before the answer; with
// `earlyMedia: false` it hears nothing until then.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { purity } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { nextCallEnd, received, sippOk, startCallee, startCaller, type Peer } from './helpers.ts';

const CALLEE_HZ = 1200;

const yaml = `
security: { upstreams: [127.0.0.1] }
routing:
  rules:
    - name: no-early
      match: { to: "sip:noearly@*" }
      actions: [{ app: bridge-no-early }]
    - name: others
      match: { method: INVITE, media: audio }
      actions: [{ app: bridge-early }]
flows:
  bridge-early:
    - answer: { early: true }
    - bridge: { ringTimeout: 10, copyHeaders: [X-Account, X-Missing] }
  bridge-no-early:
    - answer: { early: true }
    - bridge: { ringTimeout: 10, earlyMedia: false }
`;

/** Median tone purity over 250 ms windows of [fromMs, toMs) of an 8 kHz stream. */
function purityBetween(pcm: Int16Array, hz: number, fromMs: number, toMs: number): number {
  const w = 2000;
  const v: number[] = [];
  for (let s = (8 * fromMs) | 0; s + w <= Math.min(pcm.length, 8 * toMs); s += w) v.push(purity(pcm, 8000, hz, s, w));
  v.sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)] ?? 0;
}

interface CallResult {
  caller: Peer;
  callee: Peer;
  calleeInvite: string;
}

async function call(parley: RunningParley, user: string): Promise<CallResult> {
  const callee = await startCallee('callee-early-media.xml', CALLEE_HZ);
  const ended = nextCallEnd(parley);
  const caller = await startCaller(parley, 'caller-headers.xml', `sip:${user}@127.0.0.1:${callee.port}`, { toneHz: null, pauseMs: 1000 });
  sippOk(await caller.done, 'caller');
  const calleeRun = await callee.done;
  sippOk(calleeRun, 'callee');
  await ended;
  const calleeInvite = received(calleeRun).find((m) => /INVITE sip:/.test(m)) ?? '';
  return { caller, callee, calleeInvite };
}

describe('early media and copied headers on a bridge (SIPp on both sides)', () => {
  let parley: RunningParley;
  let early: CallResult;
  let noEarly: CallResult;

  before(async () => {
    parley = await startParley(yaml);
    early = await call(parley, 'bob');
    noEarly = await call(parley, 'noearly');
  });

  after(async () => {
    for (const r of [early, noEarly]) {
      await r?.caller.rtp.close();
      await r?.callee.rtp.close();
    }
    await parley?.stop();
  });

  it("the caller hears the callee's early media before the callee answers", () => {
    const heard = early.caller.rtp.decoded();
    // Parley sends to the caller from its own 183 on; the callee answers 2.5 s after its 183.
    const before = purityBetween(heard, CALLEE_HZ, 500, 2000);
    assert.ok(before > 0.6, `callee tone share before the answer ${before.toFixed(3)}`);
  });

  it('with earlyMedia: false the caller hears nothing of the callee until it answers, then hears it', () => {
    const heard = noEarly.caller.rtp.decoded();
    const before = purityBetween(heard, CALLEE_HZ, 500, 2000);
    assert.ok(before < 0.05, `callee tone share before the answer ${before.toFixed(3)}`);
    const after = purityBetween(heard, CALLEE_HZ, 3000, 3700);
    assert.ok(after > 0.6, `callee tone share after the answer ${after.toFixed(3)}`);
  });

  it('the B leg carries the headers named in copyHeaders and no other caller header', () => {
    const invite = early.calleeInvite;
    assert.match(invite, /^X-Account: 4711\r?$/m, 'X-Account copied');
    assert.doesNotMatch(invite, /^X-Secret:/im, 'X-Secret not copied');
    assert.doesNotMatch(invite, /^X-Missing:/im, 'a header the caller did not send is not invented');
    assert.doesNotMatch(noEarly.calleeInvite, /^X-Account:/im, 'a flow without copyHeaders copies nothing');
  });

  it("the B leg asserts the identity the caller's proxy (a security.upstreams address) asserted (not its From) and keeps the caller's Privacy (RFC 3325, RFC 3323)", () => {
    for (const invite of [early.calleeInvite, noEarly.calleeInvite]) {
      assert.match(invite, /^P-Asserted-Identity: "Alice Asserted" <sip:\+15550100@carrier\.example>\r?$/m);
      assert.match(invite, /^Privacy: id\r?$/m);
      assert.match(invite, /^From: "Alice" <sip:alice@/m, 'the From is the caller\'s own');
    }
  });
});

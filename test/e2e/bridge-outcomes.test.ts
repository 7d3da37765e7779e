// What a record-notice caller gets when the callee does not simply answer, and
// how hang-ups travel: ring timeout → fallback flow; busy → the callee's status;
// CANCEL during the notice → nothing left behind; BYE from the callee → BYE to the caller.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd, received, sippOk, startCallee, startCaller } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';

const yaml = `
routing:
  rules:
    - name: timeout
      match: { to: "sip:slow@*" }
      actions: [{ app: notice-timeout }]
    - name: no-fallback
      match: { to: "sip:unanswered@*" }
      actions: [{ app: timeout-plain }]
    - name: busy
      match: { to: "sip:busy@*" }
      actions: [{ app: notice-plain }]
    - name: broken
      match: { to: "sip:broken@*" }
      actions: [{ app: broken }]
    - name: others
      match: { method: INVITE, media: audio }
      actions: [{ app: notice-plain }]
flows:
  notice-timeout:
    - answer: { early: true }
    - play: { prompt: record-notice }
    - bridge: { ringTimeout: 1, fallback: unavailable }
  timeout-plain:
    - answer: { early: true }
    - bridge: { ringTimeout: 1 }
  unavailable:
    - play: { tone: beep }
    - hangup: { status: 480, reason: Callee Unavailable }
  broken:
    - answer: { early: true }
    - play: { prompt: no-such-prompt }
  notice-plain:
    - answer: { early: true }
    - record: { action: start }
    - play: { prompt: record-notice, notice: true }
    - bridge: { ringTimeout: 10 }
`;

describe('bridge outcomes and hang-ups (SIPp on both sides)', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml);
  });

  after(async () => {
    await parley?.stop();
  });

  it('a callee that never answers is cancelled at the ring timeout and the fallback flow runs', async () => {
    const callee = await startCallee('callee-no-answer.xml', null);
    const ended = nextCallEnd(parley);
    const caller = await startCaller(parley, 'caller-expect-480.xml', `sip:slow@127.0.0.1:${callee.port}`);
    sippOk(await caller.done, 'caller');
    sippOk(await callee.done, 'callee');
    const { outcome } = await ended;
    assert.equal(outcome.flow, 'unavailable', 'the fallback flow ran');
    assert.ok(received(await callee.done).some((m) => /^CANCEL /m.test(m)), 'the callee got a CANCEL');
    await caller.rtp.close();
    await callee.rtp.close();
  });

  it('a callee that never answers, with no fallback: the caller gets 408 Request Timeout, the phrase of a transfer\'s 408 and of RFC 3261 §21.4.9', async () => {
    const callee = await startCallee('callee-no-answer.xml', null);
    const ended = nextCallEnd(parley);
    const caller = await startCaller(parley, 'caller-expect-408.xml', `sip:unanswered@127.0.0.1:${callee.port}`);
    const run = await caller.done;
    sippOk(run, 'caller');
    sippOk(await callee.done, 'callee');
    await ended;
    const final = received(run).find((m) => /^SIP\/2\.0 408 /m.test(m)) ?? '';
    assert.match(final, /^SIP\/2\.0 408 Request Timeout\r?$/m);
    await caller.rtp.close();
    await callee.rtp.close();
  });

  it("a caller whose INVITE's Expires passes while the callee rings gets 487, the callee is cancelled, and nothing is left (RFC 3261 §13.3.1)", async () => {
    const callee = await startCallee('callee-no-answer.xml', null);
    const ended = nextCallEnd(parley);
    const t0 = Date.now();
    // 3 s: the 1.6 s notice, then the callee rings (ringTimeout 10 s) until the INVITE expires.
    const caller = await startCaller(parley, 'caller-expires-expect-487.xml', `sip:expiring@127.0.0.1:${callee.port}`, { extra: ['-key', 'expires', '3'] });
    const run = await caller.done;
    sippOk(run, 'caller');
    const final = received(run).find((m) => /^SIP\/2\.0 487 /m.test(m)) ?? '';
    assert.match(final, /^SIP\/2\.0 487 Request Terminated\r?$/m);
    const took = Date.now() - t0;
    assert.ok(took >= 2900, `487 once the INVITE expired (${took} ms), not before`);
    const calleeRun = await callee.done;
    sippOk(calleeRun, 'callee');
    assert.ok(received(calleeRun).some((m) => /^CANCEL /m.test(m)), 'the ringing callee got a CANCEL');
    await ended;
    await assertNothingLeft(parley);
    await caller.rtp.close();
    await callee.rtp.close();
  });

  it('a busy callee gives the caller 486 when the flow has no fallback', async () => {
    const callee = await startCallee('callee-busy.xml', null);
    const ended = nextCallEnd(parley);
    const caller = await startCaller(parley, 'caller-expect-486.xml', `sip:busy@127.0.0.1:${callee.port}`);
    sippOk(await caller.done, 'caller');
    sippOk(await callee.done, 'callee');
    await ended;
    await caller.rtp.close();
    await callee.rtp.close();
  });

  it("the caller's CANCEL during the notice leaves no leg, room or open recording behind", async () => {
    const ended = nextCallEnd(parley);
    // 500 ms into the 1.6 s notice: the bridge has not started, so no callee is needed.
    const caller = await startCaller(parley, 'caller-cancel.xml', 'sip:nobody@127.0.0.1:9', { pauseMs: 500 });
    sippOk(await caller.done, 'caller');
    const { outcome } = await ended;
    assert.equal(outcome.reason, 'call-ended');
    await assertNothingLeft(parley);
    assert.ok(caller.rtp.received.length > 0, 'the caller was hearing the notice as early media');
    await caller.rtp.close();
  });

  it('a flow whose prompt is missing fails that call with a 500 and the next call goes on', async () => {
    const ended = nextCallEnd(parley);
    const caller = await startCaller(parley, 'caller-expect-500.xml', 'sip:broken@127.0.0.1:9');
    sippOk(await caller.done, 'caller');
    const { outcome } = await ended;
    assert.equal(outcome.reason, 'failed');
    assert.match(outcome.error?.message ?? '', /no-such-prompt/);
    await caller.rtp.close();
    const callee = await startCallee('callee-busy.xml', null);
    const next = await startCaller(parley, 'caller-expect-486.xml', `sip:busy@127.0.0.1:${callee.port}`);
    sippOk(await next.done, 'the next caller');
    sippOk(await callee.done, 'callee');
    await next.rtp.close();
    await callee.rtp.close();
  });

  it("the callee's BYE ends the caller's leg with a BYE", async () => {
    const callee = await startCallee('callee-hangup.xml', 1000, ['-d', '1500']);
    const ended = nextCallEnd(parley);
    const caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:carol@127.0.0.1:${callee.port}`, { toneHz: 440 });
    sippOk(await callee.done, 'callee');
    sippOk(await caller.done, 'caller');
    await ended;
    await assertNothingLeft(parley);
    await caller.rtp.close();
    await callee.rtp.close();
  });

  it("the callee puts the call on hold: Parley answers that offer (recvonly, its codec, no rtcp-mux), stops sending to it and passes the hold on to the caller (re-INVITE a=sendonly)", async () => {
    const callee = await startCallee('callee-hold.xml', 1000, []);
    const ended = nextCallEnd(parley);
    // The caller hangs up 2.5 s after the hold reached it: past the second of hold judged below.
    const caller = await startCaller(parley, 'caller-held.xml', `sip:dave@127.0.0.1:${callee.port}`, { toneHz: 440, pauseMs: 2500 });
    // Connected and hearing the caller, then the hold re-INVITE (SIPp checks our 200's SDP).
    await callee.rtp.waitForPackets(50, 15_000);
    // Parley took the callee's hold offer (its answer applied to the leg): from here it sends the callee nothing.
    await waitFor("the callee's hold taken", () => [...parley.app.calls!.active.values()].some((a) => 'holds' in a.call && a.call.holds.of('callee') === 'sendonly') || undefined, 15_000);
    const heldAt = callee.rtp.received.length;
    await new Promise((r) => setTimeout(r, 1000));
    const duringHold = callee.rtp.received.length - heldAt;
    sippOk(await callee.done, 'callee (it checks the answer to its hold offer)');
    sippOk(await caller.done, 'caller (it checks the re-INVITE passing the hold on)');
    await ended;
    assert.ok(duringHold <= 2, `Parley kept sending to the holder: ${duringHold} packets in 1 s of hold`);
    await caller.rtp.close();
    await callee.rtp.close();
  });
});

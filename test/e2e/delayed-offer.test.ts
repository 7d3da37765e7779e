// parley-tests: beside (judges no real-time audio: SIP read, RTP counted as packets; run beside other test files, scripts/run-tests.sh)
// Delayed offer at the record-notice gateway (issue 12): an INVITE without SDP is no
// longer proxied past the notice. Parley makes the offer (in its reliable 183 when the
// caller supports 100rel, RFC 3262 §5, else in its 200, RFC 3261 §13.2.1), takes the
// answer from the PRACK or the ACK, plays the notice, records and bridges; or, with
// calls.delayedOffer: reject, refuses it with 488. Nothing is left behind.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { nextCallEnd, received, sippOk, startCallee, startCaller } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';

// The shipped gateway rule: `media: audio` takes a delayed offer too.
const yaml = `
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: record-notice }] }]
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start }
    - play: { prompt: record-notice, notice: true }
    - bridge: { ringTimeout: 10 }
`;

const stateFile = (): string => join(mkdtempSync(join(tmpdir(), 'delayed-')), 'rules.json');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function sidecarOf(dir: string, callId: string): any {
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const meta = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { legs?: { callId?: string }[] };
    if (meta.legs?.some((l) => l.callId === callId)) return meta;
  }
  return undefined;
}

describe('delayed offer (SIPp callers sending INVITE without SDP)', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml + apiYaml(stateFile()));
  });

  after(async () => {
    await parley?.stop();
  });

  // Without 100rel the call is answered before the notice (no early media can carry an
  // offer): that caller cannot tell when the callee answers, so it stays until Parley's BYE
  // and its callee hangs up (a caller hanging up a fixed time after its 200 raced the notice
  // and the B leg on a loaded machine: Parley rightly cancelled the ringing callee). With
  // 100rel the caller's 200 comes with the callee's, and the caller hangs up after it.
  for (const [what, scenario, where, pauseMs, calleeScenario] of [
    ['without 100rel: offer in the 200, answer in the ACK', 'caller-delayed-offer.xml', '200', 0, 'callee-hangup.xml'],
    ['with 100rel: offer in a reliable 183, answer in the PRACK', 'caller-delayed-100rel.xml', '183', 1500, 'callee.xml'],
  ] as const) {
    it(`${what}; the caller hears the notice, is recorded and bridged`, async () => {
      const callee = await startCallee(calleeScenario, 1000, ['-d', '1500']);
      const ended = nextCallEnd(parley);
      const caller = await startCaller(parley, scenario, `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440, pauseMs });
      const run = await caller.done;
      sippOk(run, 'caller');
      const calleeRun = await callee.done;
      sippOk(calleeRun, 'callee');
      const offer = received(run).find((m) => new RegExp(`^SIP/2\\.0 ${where} `, 'm').test(m) && /^m=audio /m.test(m)) ?? '';
      assert.match(offer, /^a=sendrecv/m, `Parley's offer is in the ${where}`);
      if (where === '183') assert.match(offer, /^Require: 100rel/m);
      const invite = received(calleeRun).find((m) => /^INVITE /m.test(m)) ?? '';
      assert.ok(invite, 'the callee was dialled (not proxied to)');
      assert.match(invite, /^X-Parley-Leg: b2b/m, 'a B2BUA leg of Parley, not the proxied INVITE');
      assert.ok(caller.rtp.received.length > 50, `the caller heard Parley (${caller.rtp.received.length} packets): the answer was taken`);
      assert.ok(callee.rtp.received.length > 10, `the callee heard the caller (${callee.rtp.received.length} packets)`);
      const { active, outcome } = await ended;
      assert.equal(outcome.reason, 'completed');
      await assertNothingLeft(parley);
      const meta = sidecarOf(parley.recordingDir, active.call.callId);
      assert.ok(meta, 'the call was recorded');
      assert.ok((meta.notices as unknown[]).length >= 1, 'the notice played');
      await caller.rtp.close();
      await callee.rtp.close();
    });
  }
});

describe('delayed offer answered wrongly', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml + apiYaml(stateFile()));
  });

  after(async () => {
    await parley?.stop();
  });

  it('an ACK without the answer to the offer in the 200 ends the call with a BYE (Reason 488) and leaves nothing', async () => {
    const caller = await startCaller(parley, 'caller-delayed-ack-no-sdp.xml', 'sip:bob@127.0.0.1:9');
    const run = await caller.done;
    sippOk(run, 'caller');
    const bye = received(run).find((m) => /^BYE /m.test(m)) ?? '';
    assert.match(bye, /^Reason: SIP;cause=488/m);
    await assertNothingLeft(parley);
    await caller.rtp.close();
  });
});

describe('delayed offer refused by config (calls.delayedOffer: reject)', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml + 'calls: { delayedOffer: reject }\n' + apiYaml(stateFile()));
  });

  after(async () => {
    await parley?.stop();
  });

  it('an INVITE without SDP gets 488 with a Warning that says why; nothing is set up', async () => {
    const caller = await startCaller(parley, 'caller-delayed-expect-488.xml', 'sip:bob@127.0.0.1:9');
    const run = await caller.done;
    sippOk(run, 'caller');
    const final = received(run).find((m) => /^SIP\/2\.0 488 /m.test(m)) ?? '';
    assert.match(final, /^Warning: 399 parley "[^"]*delayed offer[^"]*"/m);
    await assertNothingLeft(parley);
    await caller.rtp.close();
  });
});

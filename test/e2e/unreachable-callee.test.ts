// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// RFC 3261 §18.4 end to end: the B leg's callee does not exist (a closed UDP port answers with
// ICMP port unreachable), so the bridge fails with 503 on the transport error and the caller gets
// the fallback flow: the log shows that the ICMP error failed the INVITE, not the ring timeout
// (30 s, which would be a 408) or timer B (32 s, a 408 too). No wall-clock limit: how soon that
// happens is the machine's speed; that it happens before either timer is Parley's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/free-port.ts';
import { captureLog, type LogCapture } from '../helpers/log-capture.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { VIA_DRACHTIO } from '../helpers/real-drachtio.ts';
import { nextCallEnd, sippOk, startCaller } from './helpers.ts';

const yaml = `
routing:
  rules:
    - name: all
      match: { method: INVITE }
      actions: [{ app: gateway }]
flows:
  gateway:
    - answer: { early: true }
    - bridge: { ringTimeout: 30, fallback: unavailable }
  unavailable:
    - hangup: { status: 480, reason: Callee Unavailable }
`;

describe('an unreachable callee (closed UDP port)', () => {
  let parley: RunningParley;
  let capture: LogCapture;

  before(async () => {
    capture = captureLog();
    parley = await startParley(yaml, { log: capture.log });
  });
  after(async () => {
    await parley?.stop();
  });

  it('gives the caller the fallback flow on the ICMP error, before the ring timeout or timer B', async () => {
    const closed = await freePort();
    let bridged = false;
    parley.app.calls!.once('callstart', (active) => {
      active.session.on('task', (name) => {
        if (name === 'bridge') bridged = true;
      });
    });
    // Only a guard against a hang, past both timers (30 s, 32 s): which one ended the B leg, if
    // any, is read from the log below.
    const ended = nextCallEnd(parley, 90_000);
    const caller = await startCaller(parley, 'caller-expect-480.xml', `sip:ghost@127.0.0.1:${closed}`);
    const { active, outcome } = await ended;
    assert.ok(bridged, 'the bridge step ran');
    assert.equal(outcome.flow, 'unavailable', 'the fallback flow ran');
    assert.equal(active.session.vars.get('bridgeStatus'), '503');
    // The mechanism: the kernel's ICMP port unreachable for that port reached the SIP layer,
    // which answered the INVITE 503 for the transport error (RFC 3261 §8.1.3.1). Those log
    // lines are the embedded server's; a real drachtio-server (PARLEY_TEST_VIA_DRACHTIO) gives
    // the same 503 from sofia-sip without them.
    const target = `127.0.0.1:${closed}`;
    if (!VIA_DRACHTIO) {
      assert.ok(capture.find(/udp destination unreachable/).some((l) => l.to === target), 'the ICMP error was seen for the callee');
      const transport = capture.find(/transport error: answered 503/).filter((l) => l.uri === `sip:ghost@${target}`);
      assert.deepEqual(transport.map((l) => l.method), ['INVITE'], 'the INVITE failed on the transport error');
    }
    // One line for the B leg, naming its target and outcome: a 503, not the ring timeout's 408.
    const lines = capture.find(/^B leg /);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].target, `sip:ghost@127.0.0.1:${closed}`);
    assert.equal(lines[0].status, 503);
    assert.notEqual(lines[0].reason, 'Request Timeout', 'not the ring timeout');
    assert.equal(lines[0].msg, 'B leg failed');
    sippOk(await caller.done, 'caller');
    await caller.rtp.close();
  });
});

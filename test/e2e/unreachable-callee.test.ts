// RFC 3261 §18.4 end to end: the B leg's callee does not exist (a closed UDP port answers with
// ICMP port unreachable), so the bridge fails at once with 503 and the caller gets the fallback
// flow within 2 seconds of the B leg's INVITE, not after the ring timeout or timer B.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/free-port.ts';
import { captureLog, type LogCapture } from '../helpers/log-capture.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
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

  it('gives the caller the fallback flow within 2 s of the B leg INVITE', async () => {
    const closed = await freePort();
    let bridgeAt = 0;
    parley.app.calls!.once('callstart', (active) => {
      active.session.on('task', (name) => {
        if (name === 'bridge') bridgeAt = performance.now();
      });
    });
    const ended = nextCallEnd(parley, 10_000);
    const caller = await startCaller(parley, 'caller-expect-480.xml', `sip:ghost@127.0.0.1:${closed}`);
    const { active, outcome } = await ended;
    const elapsed = performance.now() - bridgeAt;
    assert.ok(bridgeAt > 0, 'the bridge step ran');
    assert.equal(outcome.flow, 'unavailable', 'the fallback flow ran');
    assert.ok(elapsed < 2000, `fallback ${Math.round(elapsed)} ms after the B leg started`);
    assert.equal(active.session.vars.get('bridgeStatus'), '503');
    // One line for the B leg, naming its target and outcome.
    const lines = capture.find(/^B leg /);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].target, `sip:ghost@127.0.0.1:${closed}`);
    assert.equal(lines[0].status, 503);
    assert.equal(lines[0].msg, 'B leg failed');
    sippOk(await caller.done, 'caller');
    await caller.rtp.close();
  });
});

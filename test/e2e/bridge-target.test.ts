// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Where the B leg goes. linphonec puts the callee's port in the Request-URI and not in To, so
// a bridge to the original To (the default) would go to port 5060; `bridgeTo: request-uri` on
// the rule, or `to: request-uri` on the bridge step, sends it where the Request-URI says.
// The callee answers 486, so the caller's 486 proves the B leg reached it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { freePort } from '../helpers/free-port.ts';
import { nextCallEnd, received, sippOk, startCallee, startCaller } from './helpers.ts';

const movedPort = await freePort();

const yaml = `
routing:
  rules:
    - name: moved
      match: { requestUri: "sip:moved@*" }
      actions: [{ retarget: "sip:moved-to@127.0.0.1:${movedPort}" }, { app: plain, bridgeTo: request-uri }]
    - name: by-step
      match: { to: "sip:step@*" }
      actions: [{ app: to-request-uri }]
    - name: default-target
      match: { to: "sip:carol@*" }
      actions: [{ app: plain }]
    - name: by-rule
      match: { method: INVITE }
      actions: [{ app: plain, bridgeTo: request-uri }]
flows:
  plain:
    - bridge: { ringTimeout: 5 }
  to-request-uri:
    - bridge: { ringTimeout: 5, to: request-uri }
`;

describe('bridge target: the Request-URI (a phone that keeps the port out of To)', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml);
  });
  after(async () => {
    await parley?.stop();
  });

  for (const [how, user] of [['the rule says bridgeTo: request-uri', 'bob'], ['the bridge step says to: request-uri', 'step']] as const) {
    it(`${how}: the B leg goes to the Request-URI's port`, async () => {
      const callee = await startCallee('callee-busy.xml', null);
      const ended = nextCallEnd(parley, 15_000);
      const caller = await startCaller(parley, 'caller-ruri-expect-486.xml', `sip:${user}@127.0.0.1:${callee.port}`, {
        extra: ['-key', 'to_header', `sip:${user}@127.0.0.1`],
      });
      sippOk(await caller.done, 'caller');
      const calleeRun = await callee.done;
      sippOk(calleeRun, 'callee');
      const invite = received(calleeRun).find((m) => /^INVITE /m.test(m));
      assert.match(invite ?? '', new RegExp(`^INVITE sip:${user}@127\\.0\\.0\\.1:${callee.port} SIP/2\\.0`, 'm'));
      await ended;
      await caller.rtp.close();
      await callee.rtp.close();
    });
  }

  it('bridgeTo: request-uri after a retarget dials the retargeted Request-URI', async () => {
    const callee = await startCallee('callee-busy.xml', null, [], movedPort);
    const ended = nextCallEnd(parley, 15_000);
    const caller = await startCaller(parley, 'caller-ruri-expect-486.xml', 'sip:moved@127.0.0.1', { extra: ['-key', 'to_header', 'sip:moved@127.0.0.1'] });
    try {
      sippOk(await caller.done, 'caller');
      const calleeRun = await callee.done;
      sippOk(calleeRun, 'callee');
      const invite = received(calleeRun).find((m) => /^INVITE /m.test(m));
      assert.match(invite ?? '', new RegExp(`^INVITE sip:moved-to@127\\.0\\.0\\.1:${movedPort} SIP/2\\.0`, 'm'));
      await ended;
    } finally {
      callee.kill();
      await caller.rtp.close();
      await callee.rtp.close();
    }
  });

  // The phone uses Parley as its outbound proxy and its To names no port, so on one machine
  // the To is Parley's own address: bridged there the B leg came back marked, was proxied to
  // Parley again and failed with 482 (the caller got a voice message, not the callee).
  it('nothing says: a To that points at Parley itself is not dialled, the Request-URI is', async () => {
    const callee = await startCallee('callee-busy.xml', null);
    const ended = nextCallEnd(parley, 15_000);
    const caller = await startCaller(parley, 'caller-ruri-expect-486.xml', `sip:carol@127.0.0.1:${callee.port}`, {
      extra: ['-key', 'to_header', `sip:carol@127.0.0.1:${parley.sipPort}`],
    });
    sippOk(await caller.done, 'caller');
    const calleeRun = await callee.done;
    sippOk(calleeRun, 'callee');
    const invite = received(calleeRun).find((m) => /^INVITE /m.test(m));
    assert.match(invite ?? '', new RegExp(`^INVITE sip:carol@127\\.0\\.0\\.1:${callee.port} SIP/2\\.0`, 'm'));
    await ended;
    await caller.rtp.close();
    await callee.rtp.close();
  });
});

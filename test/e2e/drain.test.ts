// SIGTERM drains a running `parley start`: a new call is refused with 503 at
// once, the call in progress goes on until shutdown.drainTimeoutMs, then both of
// its legs get a BYE, and the process exits 0.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { spawnParley } from '../helpers/parley-process.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { received, sippOk, startCallee, startCaller } from './helpers.ts';

describe('SIGTERM drains', () => {
  it('refuses new calls, lets the running call go on until the drain timeout, then ends it and exits 0', async () => {
    const proc = await spawnParley(`
shutdown: { drainTimeoutMs: 2500 }
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw: [{ answer: { early: true } }, { bridge: { ringTimeout: 10 } }]
`);
    const { child } = proc;
    const parley = { sipPort: proc.sipPort } as RunningParley;

    const callee = await startCallee('callee.xml', 1000);
    const caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440 });
    await callee.rtp.waitForPackets(30, 10_000);
    const termAt = Date.now();
    child.kill('SIGTERM');
    await proc.logged(/draining/);

    const late = await startCaller(parley, 'caller-expect-503.xml', 'sip:carol@127.0.0.1:9');
    sippOk(await late.done, 'a caller during the drain');

    const callerRun = await caller.done;
    sippOk(callerRun, 'the running caller');
    sippOk(await callee.done, 'the running callee');
    const endedAfter = Date.now() - termAt;
    assert.ok(endedAfter >= 2000, `the running call was given the drain time (ended after ${endedAfter} ms)`);
    assert.ok(received(callerRun).some((m) => /^BYE /m.test(m)), 'the caller got a BYE');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.ok(proc.lines.some((l) => l.msg === 'drain timeout: ending the calls still up'));
    for (const p of [caller, callee, late]) await p.rtp.close();
  });
});

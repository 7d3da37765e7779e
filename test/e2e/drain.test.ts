// SIGTERM drains a running `parley start`: a new call is refused with 503 at
// once, the call in progress goes on until shutdown.drainTimeoutMs, then both of
// its legs get a BYE, and the process exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/free-port.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { received, sippOk, startCallee, startCaller } from './helpers.ts';

describe('SIGTERM drains', () => {
  it('refuses new calls, lets the running call go on until the drain timeout, then ends it and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-drain-'));
    const sipPort = await freePort();
    const file = join(dir, 'parley.yaml');
    writeFileSync(
      file,
      `
log: { level: info, pretty: false }
sip:
  listen: [{ transport: udp, host: 127.0.0.1, port: ${sipPort} }]
  control: { host: 127.0.0.1, port: 0, secret: drain }
media: { workers: 1 }
prompts: { dir: ${resolve('prompts')}, cacheDir: ${join(dir, 'cache')} }
recording: { dir: ${join(dir, 'recordings')} }
shutdown: { drainTimeoutMs: 2500 }
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw: [{ answer: { early: true } }, { bridge: { ringTimeout: 10 } }]
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const msgs: string[] = [];
    const seen = (re: RegExp) =>
      new Promise<void>((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`not logged: ${re}`)), 20_000);
        const check = (): void => {
          if (msgs.some((m) => re.test(m))) {
            clearTimeout(t);
            ok();
          } else setTimeout(check, 20);
        };
        check();
      });
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        msgs.push(String((JSON.parse(l) as { msg: unknown }).msg));
      } catch {
        msgs.push(l);
      }
    });
    await seen(/Parley is running/);
    const parley = { sipPort } as RunningParley;

    const callee = await startCallee('callee.xml', 1000);
    const caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440 });
    await callee.rtp.waitForPackets(30, 10_000);
    const termAt = Date.now();
    child.kill('SIGTERM');
    await seen(/draining/);

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
    assert.ok(msgs.includes('drain timeout: ending the calls still up'));
    for (const p of [caller, callee, late]) await p.rtp.close();
  });
});

// `parley start` runs in the foreground with JSON logs; SIGINT and SIGTERM close it in
// order and it exits 0; a bad config stops start-up with a message naming the key.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';

/** A config file in a folder of its own, its recordings there too: cases side by side never share a recording.dir (one Parley per folder). */
function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-life-'));
  const file = join(dir, 'parley.yaml');
  writeFileSync(file, withDir(file, text));
  return file;
}

/** `text` with the recording.dir line of the config file at `file` (a rewrite keeps its folder). */
function withDir(file: string, text: string): string {
  return `${text}\nrecording: { dir: ${JSON.stringify(join(dirname(file), 'recordings'))} }\n`;
}

const goodConfig = `
log: { level: info, pretty: false }
media: { workers: 1 }
sip:
  listen: [{ transport: udp, host: 127.0.0.1, port: 0 }, { transport: tcp, host: 127.0.0.1, port: 0 }]
  control: { host: 127.0.0.1, port: 0, secret: test }
`;

function startParley(config: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(l) as Record<string, unknown>;
    } catch {
      assert.fail(`a log line that is not JSON: ${l}`);
    }
    lines.push(entry);
    for (const w of [...waiters]) {
      if (w.re.test(String(entry.msg))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const logged = (re: RegExp) =>
    lines.some((l) => re.test(String(l.msg))) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ re, resolve }));
  return { child, lines, logged, stderr: () => stderr };
}

// Each case starts its own `parley start` process on its own config file and ports: they run side by side.
describe('parley start', { concurrency: true }, () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`runs in the foreground and ${signal} stops it cleanly with exit 0`, async () => {
      const p = startParley(writeConfig(goodConfig));
      await p.logged(/Parley is running/);
      assert.ok(p.lines.some((l) => l.msg === 'mediasoup workers started' && l.workers === 1));
      const workerPids = p.lines.find((l) => l.msg === 'mediasoup workers started')!.pids as number[];
      p.child.kill(signal);
      const [code] = (await once(p.child, 'exit')) as [number | null];
      assert.equal(code, 0, `exit code (stderr: ${p.stderr()})`);
      const msgs = p.lines.map((l) => l.msg);
      assert.ok(msgs.indexOf('stopping') < msgs.indexOf('closed'), 'closes after the signal');
      for (const pid of workerPids) {
        assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
      }
    });
  }

  it('SIGHUP reloads the rule chain and flows; a bad new file is refused and the old config stays', async () => {
    const file = writeConfig(goodConfig + 'flows:\n  a: [answer]\nrouting:\n  rules: [{ name: one, actions: [{ app: a }] }]\n');
    const p = startParley(file);
    await p.logged(/Parley is running/);
    writeFileSync(file, withDir(file, goodConfig + 'flows:\n  a: [answer]\n  b: [hangup]\nrouting:\n  rules: [{ name: one, actions: [{ app: a }] }, { name: two, actions: [{ app: b }] }]\n'));
    p.child.kill('SIGHUP');
    await p.logged(/config reloaded/);
    const reloaded = p.lines.find((l) => l.msg === 'config reloaded')!;
    assert.equal(reloaded.rules, 2);
    assert.equal(reloaded.flows, 2);
    assert.equal(reloaded.generation, 2);
    writeFileSync(file, withDir(file, goodConfig + 'routing:\n  rules: [{ name: x, actions: [{ app: missing }] }]\n'));
    p.child.kill('SIGHUP');
    await p.logged(/config reload refused/);
    const refused = p.lines.find((l) => l.msg === 'config reload refused; the old config stays in force')!;
    assert.match(JSON.stringify(refused.err), /routing\.rules\.0\.actions\.0\.app: no flow named 'missing'/);
    p.child.kill('SIGTERM');
    const [code] = (await once(p.child, 'exit')) as [number | null];
    assert.equal(code, 0, 'still running after a refused reload, and stops cleanly');
  });

  it('a bad config stops start-up with exit 2 and names the key', async () => {
    const p = startParley(writeConfig('media:\n  rtpPortRange: { min: 40000, max: 99999 }\n'));
    const [code] = (await once(p.child, 'exit')) as [number | null];
    assert.equal(code, 2);
    assert.match(p.stderr(), /media\.rtpPortRange\.max: must be <= 65535/);
  });
});

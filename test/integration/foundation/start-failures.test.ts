// What a new user sees when `parley start` cannot start: one plain line on stderr naming
// the key, then what to do (a port another process holds, a missing worker binary), and
// no stray error logs before it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { freePort } from '../../helpers/free-port.ts';

function writeConfig(sipPort: number, controlPort: number, apiPort: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-startfail-'));
  const file = join(dir, 'parley.yaml');
  writeFileSync(
    file,
    `log: { level: info, pretty: false }
media: { workers: 1, threads: 0 }
sip:
  listen: [{ transport: udp, host: 127.0.0.1, port: ${sipPort} }, { transport: tcp, host: 127.0.0.1, port: ${sipPort} }]
  control: { host: 127.0.0.1, port: ${controlPort}, secret: test }
recording: { dir: ${join(dir, 'recordings')} }
api: { enabled: true, host: 127.0.0.1, port: ${apiPort}, token: start-failures-token-0123 }
`,
  );
  return file;
}

interface Run {
  code: number | null;
  stderr: string;
  lines: Array<Record<string, unknown>>;
}

async function start(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr, lines };
}

async function holdUdp(port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, '127.0.0.1', resolve);
  });
  return s;
}

async function holdTcp(port: number): Promise<net.Server> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', resolve);
  });
  return s;
}

function assertNamesTheFix(r: Run, file: string, key: string, what: string, port: number): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const [first, hint] = r.stderr.trim().split('\n');
  assert.match(first!, new RegExp(`^parley: cannot start: ${key.replace('.', '\\.')}: cannot listen on ${what} 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  assert.match(hint!, new RegExp(`another process holds 127\\.0\\.0\\.1:${port}`));
  assert.ok(hint!.includes(`set ${key}.port to a free port in ${file}`), hint);
  const stray = r.lines.filter((l) => l.msg === 'udp socket error' || l.msg === 'control server error');
  assert.deepEqual(stray, [], 'a failed bind is reported once, as the start-up error');
}

// The cases run at once: each starts its own Parley process on its own ports (one waits 10 s for a drachtio-server).
describe('parley start: start-up failures say what to do', { concurrency: true }, () => {
  it('a SIP port another process holds: names sip.listen.0.port and the file', async () => {
    const [sip, control, api] = [await freePort(), await freePort(), await freePort()];
    const held = await holdUdp(sip);
    try {
      const file = writeConfig(sip, control, api);
      assertNamesTheFix(await start(file), file, 'sip.listen.0', 'udp', sip);
    } finally {
      held.close();
    }
  });

  it('a control port another process holds: names sip.control.port', async () => {
    const [sip, control, api] = [await freePort(), await freePort(), await freePort()];
    const held = await holdTcp(control);
    try {
      const file = writeConfig(sip, control, api);
      assertNamesTheFix(await start(file), file, 'sip.control', 'tcp', control);
    } finally {
      held.close();
    }
  });

  it('an API port another process holds: names api.port', async () => {
    const [sip, control, api] = [await freePort(), await freePort(), await freePort()];
    const held = await holdTcp(api);
    try {
      const file = writeConfig(sip, control, api);
      assertNamesTheFix(await start(file), file, 'api', 'http', api);
    } finally {
      held.close();
    }
  });

  it('sip.server: remote with no drachtio-server at sip.control: says what to check', async () => {
    const [sip, control, api] = [await freePort(), await freePort(), await freePort()];
    const file = writeConfig(sip, control, api);
    writeFileSync(file, readFileSync(file, 'utf8').replace('sip:\n', 'sip:\n  server: remote\n'));
    const r = await start(file);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr.trim(),
      new RegExp(`^parley: cannot start: sip\\.control: no drachtio-server answered at 127\\.0\\.0\\.1:${control} within 10 s: is it running there, is sip\\.control\\.secret its admin secret\\? \\(sip\\.server: embedded`),
    );
  });

  // log.pretty (the shipped default) formats in pino-pretty's own thread: its last lines (the
  // fatal 'start-up failed' among them) could reach the terminal after the plain message.
  // Now the logger is ended (its thread's output written) before the message is.
  it('with log.pretty the cannot-start message is the last thing on the output (5 runs, stdout and stderr one file)', async () => {
    for (let i = 0; i < 5; i++) {
      const [sip, control, api] = [await freePort(), await freePort(), await freePort()];
      const held = await holdUdp(sip);
      try {
        const file = writeConfig(sip, control, api);
        writeFileSync(file, readFileSync(file, 'utf8').replace('pretty: false', 'pretty: true'));
        const out = join(mkdtempSync(join(tmpdir(), 'parley-startfail-out-')), 'out.txt');
        const fd = openSync(out, 'w');
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', file], { stdio: ['ignore', fd, fd] });
        closeSync(fd);
        const [code] = (await once(child, 'exit')) as [number | null];
        const text = readFileSync(out, 'utf8');
        assert.equal(code, 1, text);
        const at = text.indexOf('parley: cannot start:');
        assert.ok(at > 0, `the message after the log lines:\n${text}`);
        assert.match(text.slice(0, at), /start-up failed/, 'the fatal pretty line comes first');
        const [first, hint, ...rest] = text.slice(at).split('\n');
        assert.match(first!, new RegExp(`^parley: cannot start: sip\\.listen\\.0: cannot listen on udp 127\\.0\\.0\\.1:${sip}`));
        assert.match(hint!, /another process holds/);
        assert.deepEqual(rest, [''], `nothing after the message (run ${i}):\n${text}`);
      } finally {
        held.close();
      }
    }
  });

  it('a MEDIASOUP_WORKER_BIN that does not exist: says to run scripts/setup.sh or unset it', async () => {
    const file = writeConfig(await freePort(), await freePort(), await freePort());
    const r = await start(file, { ...process.env, MEDIASOUP_WORKER_BIN: '/nonexistent/mediasoup-worker' });
    assert.equal(r.code, 1);
    const [first, hint] = r.stderr.trim().split('\n');
    assert.equal(first, 'parley: cannot start: MEDIASOUP_WORKER_BIN: /nonexistent/mediasoup-worker does not exist');
    assert.match(hint!, /bash scripts\/setup\.sh/);
    assert.match(hint!, /unset it to use the cached build/);
  });
});

// Runs `parley start` as its own process (for tests that signal or kill it) with a
// config on loopback: a free SIP port over UDP, control port 0, one worker, temp
// prompt cache and recordings; `yaml` adds routing, flows and anything else.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from './free-port.ts';
import { spawnRealDrachtio, VIA_DRACHTIO, type RealDrachtioServer } from './real-drachtio.ts';

export interface ParleyProcess {
  child: ChildProcess;
  sipPort: number;
  recordings: string;
  /** Every log line so far, parsed (non-JSON lines as { msg: line }). */
  lines: Array<Record<string, unknown>>;
  /** Every stdout line so far as written (a parse would hide a key written twice). */
  raw: string[];
  /** What the process wrote to stderr so far (a stack trace would be here). */
  stderr(): string;
  /** Resolves when a log line's msg matches (at once if one already did); rejects at once, with the
   * exit code and the last stderr lines, once the process has exited without logging it. */
  logged(re: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/**
 * `opts.recordings`: an existing recordings folder (a restart after a crash); default a new one.
 * `opts.recording`: more keys of `recording` as YAML flow-map entries (e.g. `encryption: {…}`); `opts.media` the same for `media`.
 * `opts.host`: the loopback address SIP listens on (127.0.0.2… for cluster nodes); `opts.sipPort`: a port chosen by the test.
 * `opts.ready`: the log message to wait for before resolving (default: Parley is running).
 * `opts.pretty`: `log.pretty: true`, as the shipped parley.yaml (lines are then text: `{ msg: line }`, colours removed).
 * `opts.detached`: the process leads its own process group, so `process.kill(-child.pid, sig)` signals
 * it and its children (the mediasoup workers) at once, as Ctrl-C in a terminal does.
 * Under PARLEY_TEST_VIA_DRACHTIO=1 (see real-drachtio.ts) Parley connects to a real drachtio-server
 * on that host and port instead (`opts.embedded` keeps the embedded one), closed when Parley exits.
 */
export async function spawnParley(
  yaml: string,
  opts: { recordings?: string; recording?: string; media?: string; host?: string; sipPort?: number; ready?: RegExp; embedded?: boolean; pretty?: boolean; detached?: boolean } = {},
): Promise<ParleyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-proc-'));
  const sipPort = opts.sipPort ?? await freePort();
  const server: RealDrachtioServer | null = VIA_DRACHTIO && !opts.embedded ? await spawnRealDrachtio({ sipHost: opts.host, sipPort }) : null;
  const sip = server
    ? `  server: remote
  control: { host: 127.0.0.1, port: ${server.controlPort}, secret: ${server.secret} }`
    : `  listen: [{ transport: udp, host: ${opts.host ?? '127.0.0.1'}, port: ${sipPort} }]
  control: { host: 127.0.0.1, port: 0, secret: proc }`;
  const recordings = opts.recordings ?? join(dir, 'recordings');
  const file = join(dir, 'parley.yaml');
  writeFileSync(
    file,
    `log: { level: info, pretty: ${opts.pretty === true} }
sip:
${sip}
media: { workers: 1${opts.media ? `, ${opts.media}` : ''} }
prompts: { dir: ${resolve('prompts')}, cacheDir: ${join(dir, 'cache')} }
recording: { dir: ${recordings}${opts.recording ? `, ${opts.recording}` : ''} }
${yaml}`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached === true });
  if (server) child.once('exit', () => void server.close());
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': it comes after stdout and stderr ended, so every line the process wrote
  // has been read when a wait gives up on it.
  let ended: string | null = null;
  child.once('close', (code: number | null, signal: NodeJS.Signals | null) => (ended = signal ? `signal ${signal}` : `exit code ${code}`));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    // pino-pretty's colours (ESC [ … m) off, so a pretty line reads as its text.
    const l = line.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
    raw.push(l);
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      lines.push({ msg: l });
    }
  });
  const logged = (re: RegExp, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((ok, fail) => {
      const until = Date.now() + timeoutMs;
      const check = (): void => {
        const hit = lines.find((l) => re.test(String(l.msg)));
        if (hit) ok(hit);
        else if (ended !== null) fail(new Error(`not logged: ${re}: parley ended (${ended}) first; its last stderr lines:\n${lastLines(stderr, 10)}`));
        else if (Date.now() > until) fail(new Error(`not logged: ${re}`));
        else setTimeout(check, 20);
      };
      check();
    });
  // Start-up is tsx compiling the sources: over 20 s on a loaded machine (two cores, other test files beside). A guard, not a limit:
  // a process that ends first (a bad config, a port taken) fails the wait at once.
  try {
    await logged(opts.ready ?? /Parley is running/, 60_000);
  } catch (err) {
    // One that never got ready is not left running after the test that gave up on it.
    if (ended === null) child.kill('SIGKILL');
    throw err;
  }
  return { child, sipPort, recordings, lines, raw, logged, stderr: () => stderr };
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

// Runs SIPp (Debian's sip-tester) as a real peer: control socket on loopback, its own free
// ports, a timeout, and its exit code and error log handed back to the test.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeMediaPort, freePort } from './free-port.ts';

export interface SippOptions {
  /** A file under test/integration/sip/scenarios, or `uac` / `uas` for SIPp's built-ins. */
  scenario: string;
  transport: 'udp' | 'tcp';
  /** host:port to send to (UAC); omit for a UAS. */
  remote?: string;
  calls?: number;
  rate?: number;
  /** -rp: the period of -r in ms. */
  ratePeriod?: number;
  service?: string;
  timeoutS?: number;
  extra?: string[];
  /** The local SIP port; a free one if omitted. */
  port?: number;
  /** The local address (default 127.0.0.1; `::1` for IPv6). */
  localIp?: string;
}

export interface SippRun {
  code: number;
  stdout: string;
  errors: string;
  /** The -trace_counts CSV, when asked for with extra: ['-trace_counts']. */
  counts: string;
  /** Every message sent and received, when asked for with extra: ['-trace_msg']. */
  messages: string;
  /** The -trace_rtt CSV (response times), when asked for. */
  rtt: string;
  /** What the scenario's <log> actions wrote, when asked for with extra: ['-trace_logs']. */
  logs: string;
  port: number;
  /** Resolves when SIPp has bound its SIP port (for UAS peers). */
  exited: Promise<SippRun>;
}

const SCENARIOS = new URL('../integration/sip/scenarios/', import.meta.url).pathname;

export async function startSipp(o: SippOptions): Promise<{ port: number; pid: number | undefined; done: Promise<SippRun>; messages(): string; kill(): void }> {
  const port = o.port ?? await freePort();
  const cp = await freePort();
  const mp = await freeMediaPort();
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const args: string[] = [];
  if (o.scenario === 'uac' || o.scenario === 'uas') args.push('-sn', o.scenario);
  else args.push('-sf', o.scenario.startsWith('/') ? o.scenario : join(SCENARIOS, o.scenario));
  if (o.remote) args.push(o.remote);
  args.push(
    '-i', o.localIp ?? '127.0.0.1', '-p', String(port), '-ci', '127.0.0.1', '-cp', String(cp), '-mp', String(mp),
    '-t', o.transport === 'tcp' ? 't1' : 'u1', '-timeout', `${o.timeoutS ?? 20}s`, '-timeout_error',
    '-trace_err', '-nostdin', '-max_socket', '2000',
  );
  if (o.calls !== undefined) args.push('-m', String(o.calls));
  if (o.rate !== undefined) args.push('-r', String(o.rate));
  if (o.ratePeriod !== undefined) args.push('-rp', String(o.ratePeriod));
  if (o.service) args.push('-s', o.service);
  args.push(...(o.extra ?? []));
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
  const done = new Promise<SippRun>((resolve) => {
    child.on('exit', (code) => {
      let errors = '';
      let counts = '';
      let messages = '';
      let rtt = '';
      let logs = '';
      for (const f of readdirSync(dir)) {
        if (f.endsWith('_errors.log')) errors += readFileSync(join(dir, f), 'utf8');
        if (f.endsWith('_counts.csv')) counts += readFileSync(join(dir, f), 'utf8');
        if (f.endsWith('_messages.log')) messages += readFileSync(join(dir, f), 'utf8');
        if (f.endsWith('_rtt.csv')) rtt += readFileSync(join(dir, f), 'utf8');
        if (f.endsWith('_logs.log')) logs += readFileSync(join(dir, f), 'utf8');
      }
      const run = { code: code ?? -1, stdout, errors, counts, messages, rtt, logs, port } as SippRun;
      rmSync(dir, { recursive: true, force: true });
      run.exited = Promise.resolve(run);
      resolve(run);
    });
  });
  let finished: SippRun | null = null;
  void done.then((run) => (finished = run));
  // SIPp writes its -trace_msg log as it goes (flushed per message): a test can wait for a message
  // it received or sent while the scenario still runs (its folder goes when SIPp exits: then the whole run's).
  const messages = (): string => {
    if (finished) return finished.messages;
    try {
      return readdirSync(dir).filter((f) => f.endsWith('_messages.log')).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
    } catch {
      return ''; // the folder just went: the next call has the whole run's
    }
  };
  if (!o.remote && o.transport === 'tcp') await waitForTcp(port, done);
  // Parley fails a request at once when the callee's port is closed (ICMP unreachable, RFC 3261
  // §18.4), so a UAS must have bound its port before the test sends to it.
  if (!o.remote && o.transport === 'udp') await waitForUdp(port, done);
  return { port, pid: child.pid, done, messages, kill: () => child.kill('SIGKILL') };
}

/** A SIPp UAS on TCP is ready once its port accepts a connection. */
async function waitForTcp(port: number, done: Promise<SippRun>): Promise<void> {
  let exited = false;
  void done.then(() => (exited = true));
  for (let i = 0; i < 200 && !exited; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A SIPp UAS on UDP is ready once the kernel lists its port as bound (read, never probed by binding it). */
async function waitForUdp(port: number, done: Promise<SippRun>): Promise<void> {
  let exited = false;
  void done.then(() => (exited = true));
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (let i = 0; i < 200 && !exited; i++) {
    const tables = await Promise.all(['/proc/net/udp', '/proc/net/udp6'].map((f) => readFile(f, 'utf8').catch(() => '')));
    // Column 2 is local_address:port in hex.
    if (tables.some((t) => t.split('\n').some((line) => line.trim().split(/\s+/)[1]?.endsWith(hex.trim())))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs a SIPp client to completion. */
export async function runSipp(o: SippOptions): Promise<SippRun> {
  return (await startSipp(o)).done;
}

/** Successful and failed call counts from SIPp's final statistics screen. */
export function sippCounts(out: string): { ok: number; failed: number } {
  const ok = /Successful call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(out);
  const failed = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(out);
  return { ok: ok ? Number(ok[1]) : -1, failed: failed ? Number(failed[1]) : -1 };
}

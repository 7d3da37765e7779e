// Runs `parley start` as its own process for a benchmark, as scripts/start.sh does
// (node --import tsx src/cli.ts start), so that its CPU can be read from /proc apart
// from the load generators'. Readiness and gauges come from its control API.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchParley {
  child: ChildProcess;
  pid: number;
  /** The gauges and counters of GET /metrics, by metric name (labels summed); `names`: only those (GET /metrics?name=…). */
  metrics(names?: string[]): Promise<Map<string, number>>;
  /** One metric's samples by their label set as written (`{direction="to_thread",type="leg.role"}`). */
  labelled(name: string): Promise<Map<string, number>>;
  /** Ctrl-C: calls end now; resolves once the process has exited. */
  stop(): Promise<void>;
}

export interface BenchParleyOptions {
  /** The whole config file. */
  yaml: string;
  /** Where the config and the process's output (parley.log) go. */
  dir: string;
  apiPort: number;
  token: string;
  startTimeoutMs?: number;
}

/** Prometheus text → sum of the samples of each metric name. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(m[1], (out.get(m[1]) ?? 0) + v);
  }
  return out;
}

export async function startBenchParley(o: BenchParleyOptions): Promise<BenchParley> {
  const file = join(o.dir, 'parley.yaml');
  writeFileSync(file, o.yaml);
  const out = createWriteStream(join(o.dir, 'parley.log'));
  // BENCH_PARLEY_NODE_ARGS: extra node flags for Parley's process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = (process.env.BENCH_PARLEY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli.ts', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  const base = `http://127.0.0.1:${o.apiPort}`;
  const headers = { authorization: `Bearer ${o.token}` };
  const until = Date.now() + (o.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`parley exited during start-up (see ${join(o.dir, 'parley.log')})`);
    const ok = await fetch(`${base}/ready`, { headers }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`parley not ready in time (see ${join(o.dir, 'parley.log')})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    pid: child.pid!,
    async metrics(names) {
      const q = names ? `?${names.map((n) => `name=${encodeURIComponent(n)}`).join('&')}` : '';
      const r = await fetch(`${base}/metrics${q}`, { headers });
      return parseMetrics(await r.text());
    },
    async labelled(name) {
      const r = await fetch(`${base}/metrics?name=${encodeURIComponent(name)}`, { headers });
      const out = new Map<string, number>();
      for (const line of (await r.text()).split('\n')) {
        const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
        if (m && m[1] === name && Number.isFinite(Number(m[3]))) out.set(m[2] ?? '', Number(m[3]));
      }
      return out;
    },
    async stop() {
      if (!exited) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

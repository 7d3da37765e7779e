// node --import tsx bench/resampler-cost.ts [--baseline path/to/resampler.ts [--label what-it-is]] [--frames N] [--runs R]
// CPU cost of one 20 ms frame through the mixer's Resampler, per rate pair, in
// ns (single thread, no I/O). --baseline measures another implementation with
// the same class API beside it, e.g. the previous one:
//   git show <commit>:src/mixer/codecs/resampler.ts > /tmp/old/resampler.ts
// Each case runs R timed runs of N frames after a warm-up, alternating the
// implementations run by run. The headline is CPU time per frame (median of
// the runs): on a shared machine wall time mostly measures waiting for a core.
// Prints and writes bench/results/resampler-cost.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Resampler } from '../src/mixer/codecs/resampler.ts';

interface ResamplerLike {
  process(src: Int16Array, dst: Int16Array): number;
}
type ResamplerClass = new (from: number, to: number) => ResamplerLike;

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { baseline: { type: 'string' }, label: { type: 'string' }, frames: { type: 'string', default: '2000' }, runs: { type: 'string', default: '11' } },
});
const FRAMES = Number(values.frames);
const RUNS = Number(values.runs);
const PAIRS: [number, number][] = [[8000, 16000], [16000, 8000], [48000, 16000], [16000, 48000], [8000, 48000], [48000, 8000]];

interface CaseResult {
  from: number;
  to: number;
  /** CPU time of this thread's process per frame (robust when other processes compete for the cores). */
  cpuNsPerFrame: { min: number; median: number };
  /** Wall time per frame (inflated whenever the process waited for a core). */
  wallNsPerFrame: { min: number; median: number };
}

/** Speech-like input: two tones and a little noise, so no path can shortcut on zeros. */
function inputFrames(rate: number, count: number): Int16Array[] {
  const n = rate / 50;
  const out: Int16Array[] = [];
  let seed = 1;
  for (let f = 0; f < count; f++) {
    const x = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const t = (f * n + i) / rate;
      seed = (seed * 1103515245 + 12345) >>> 0;
      x[i] = Math.round(6000 * Math.sin(2 * Math.PI * 440 * t) + 3000 * Math.sin(2 * Math.PI * 2900 * t) + ((seed >>> 16) % 600) - 300);
    }
    out.push(x);
  }
  return out;
}

function stats(runs: number[]): { min: number; median: number } {
  runs.sort((a, b) => a - b);
  return { min: Math.round(runs[0]), median: Math.round(runs[runs.length >> 1]) };
}

/** Times each implementation on one rate pair, alternating runs so that load elsewhere hits them alike. */
function measure(impls: ResamplerClass[], from: number, to: number): CaseResult[] {
  const frames = inputFrames(from, 50);
  const dst = new Int16Array(to / 50);
  const rs = impls.map((Impl) => new Impl(from, to));
  for (const r of rs) for (let i = 0; i < 2000; i++) r.process(frames[i % frames.length], dst);
  const cpu: number[][] = rs.map(() => []);
  const wall: number[][] = rs.map(() => []);
  for (let run = 0; run < RUNS; run++) {
    rs.forEach((r, k) => {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < FRAMES; i++) r.process(frames[i % frames.length], dst);
      wall[k].push(Number(process.hrtime.bigint() - t0) / FRAMES);
      const c = process.cpuUsage(c0);
      cpu[k].push(((c.user + c.system) * 1000) / FRAMES);
    });
  }
  return rs.map((_, k) => ({ from, to, cpuNsPerFrame: stats(cpu[k]), wallNsPerFrame: stats(wall[k]) }));
}

async function main(): Promise<void> {
  const impls: { name: string; Impl: ResamplerClass }[] = [{ name: 'current', Impl: Resampler }];
  if (values.baseline) {
    const mod = (await import(pathToFileURL(resolve(values.baseline)).href)) as { Resampler: ResamplerClass };
    impls.push({ name: 'baseline', Impl: mod.Resampler });
  }
  const results: Record<string, CaseResult[]> = {};
  for (const { name } of impls) results[name] = [];
  for (const [from, to] of PAIRS) {
    const byImpl = measure(impls.map((i) => i.Impl), from, to);
    impls.forEach(({ name }, k) => results[name].push(byImpl[k]));
  }
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cores: availableParallelism(),
    loadAverage1m: loadavg()[0],
    framesPerRun: FRAMES,
    runs: RUNS,
    baseline: values.baseline ? (values.label ?? values.baseline) : null,
    results,
  };
  for (const { name } of impls) {
    for (const c of results[name]) {
      const pair = `${c.from / 1000}k → ${c.to / 1000}k`.padEnd(10);
      console.log(`${name.padEnd(8)} ${pair} CPU ${String(c.cpuNsPerFrame.median).padStart(6)} ns/frame (min ${c.cpuNsPerFrame.min}), wall min ${c.wallNsPerFrame.min}`);
    }
  }
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'resampler-cost.json'), JSON.stringify(result, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// npm run bench:recording-search — the recordings index with 100,000 recordings on
// disk (BENCH_RECORDINGS): each a realistic sidecar (two legs, stems, flow, rule,
// retention), its signature file and its mix (empty: the index never reads audio),
// so the folder holds 300,000 names. Measures:
// - start without an index (rebuilt from every sidecar) and with one (journal replay +
//   a readdir to reconcile), and the heap the index takes;
// - queries through ComplianceService.search, each run 30 times (median, p99, ms):
//   the newest page, by flow, by original To, by a participant (one in 20,000 calls),
//   by a participant in none (a scan of every entry), a one-day
//   time range, held only, and ten pages walked by cursor; and the newest page with
//   its 100 sidecars read (what GET /recordings does).
// Writes bench/results/recording-search.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ComplianceService } from '../src/recording/compliance/compliance-service.ts';
import { SigningKey } from '../src/recording/compliance/signing-key.ts';
import { silentLogger } from '../src/util/logger.ts';

const N = Number(process.env.BENCH_RECORDINGS ?? 100_000);
const RUNS = 30;
const root = mkdtempSync(join(tmpdir(), 'parley-bench-search-'));
const dir = join(root, 'recordings');
mkdirSync(dir, { recursive: true });
const log = silentLogger();
const key = SigningKey.ephemeral();
const FLOWS = ['record-notice', 'compliance-record', 'main-menu', 'pin-conference'];
const T0 = Date.parse('2026-01-01T00:00:00Z');
const STEP_MS = 5 * 60_000; // one recording every 5 minutes: about a year for 100,000

function sidecar(i: number): { id: string; text: string } {
  const started = new Date(T0 + i * STEP_MS);
  const id = `call-${i}-${started.toISOString().replace(/[-:.]/g, '')}`;
  const leg = (n: string, role: string, uri: string) => ({
    id: n,
    uri,
    displayName: null,
    identity: 'normal',
    callId: `cid-${i}@bench`,
    originalTo: `sip:desk-${i % 500}@example.com`,
    role,
    joins: [{ roomMs: 0, fileMs: 0, at: started.toISOString() }],
    leaves: [{ roomMs: 60_000, fileMs: 60_000, at: new Date(started.getTime() + 60_000).toISOString() }],
    stems: [{ file: `${id}.${n}.wav`, channels: 1, sampleRate: 16000, durationMs: 60_000, sha256: 'ab'.repeat(32), start: { roomMs: 0, fileMs: 0, at: started.toISOString() }, end: null }],
  });
  const meta = {
    version: 1,
    room: `call-${i}`,
    state: 'finalized',
    sampleRate: 16000,
    pauseMode: 'skip',
    startedAt: started.toISOString(),
    startRoomMs: 0,
    endedAt: new Date(started.getTime() + 60_000).toISOString(),
    updatedAt: started.toISOString(),
    durationMs: 60_000,
    mix: { file: `${id}.mix.wav`, channels: 1, sampleRate: 16000, durationMs: 60_000, sha256: 'cd'.repeat(32) },
    stereo: { file: `${id}.stereo.wav`, channels: 2, sampleRate: 16000, durationMs: 60_000, sha256: 'ef'.repeat(32), left: 'caller' },
    legs: [leg('caller', 'caller', `sip:user-${i % 20_000}@example.com`), leg('b', 'other', `sip:agent-${i % 300}@example.com`)],
    notices: [],
    pauses: [],
    masks: [],
    postProcessing: { format: 'none', state: 'none', error: null },
    postProcessed: [],
    errors: [],
    flow: FLOWS[i % FLOWS.length],
    rule: i % 2 === 0 ? 'gateway' : 'desk',
    retention: { days: 2555, from: 'rule' },
  };
  return { id, text: JSON.stringify(meta, null, 2) + '\n' };
}

async function generate(): Promise<{ ms: number; ids: string[] }> {
  const t = performance.now();
  const ids: string[] = [];
  const batch = 64;
  for (let i = 0; i < N; i += batch) {
    const jobs: Promise<void>[] = [];
    for (let k = i; k < Math.min(N, i + batch); k++) {
      const { id, text } = sidecar(k);
      ids.push(id);
      jobs.push(writeFile(join(dir, `${id}.json`), text), writeFile(join(dir, `${id}.json.sig`), '{}\n'), writeFile(join(dir, `${id}.mix.wav`), ''));
    }
    await Promise.all(jobs);
  }
  return { ms: performance.now() - t, ids };
}

async function start(): Promise<{ svc: ComplianceService; ms: number; heapMB: number; stats: ComplianceService['index']['stats'] }> {
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t = performance.now();
  const svc = await ComplianceService.start({ dir, keyFile: null, auditLog: null, retention: { days: null, sweepIntervalSec: 0 }, log, key });
  // Parley starts without waiting for the index; searches wait for it: this is their wait.
  await svc.index.ready;
  const ms = performance.now() - t;
  global.gc?.();
  return { svc, ms, heapMB: (process.memoryUsage().heapUsed - heap0) / 1e6, stats: { ...svc.index.stats } };
}

async function time(fn: () => Promise<unknown>): Promise<{ medianMs: number; p99Ms: number; results: number }> {
  const ms: number[] = [];
  let results = 0;
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const out = await fn();
    ms.push(performance.now() - t);
    results = Array.isArray(out) ? out.length : Number(out);
  }
  ms.sort((a, b) => a - b);
  return { medianMs: +ms[Math.floor(RUNS / 2)]!.toFixed(3), p99Ms: +ms[Math.min(RUNS - 1, Math.floor(RUNS * 0.99))]!.toFixed(3), results };
}

const gen = await generate();
console.log(`${N} recordings written in ${(gen.ms / 1000).toFixed(1)} s`);
const cold = await start();
await cold.svc.settled();
cold.svc.close();
await cold.svc.settled();
const warm = await start();
const svc = warm.svc;
for (let i = 0; i < 100; i++) await svc.hold(gen.ids[(i * 997) % N]!, 'bench', null);
const day = T0 + Math.floor(N / 2) * STEP_MS;
const queries = {
  newestPage: await time(async () => (await svc.search({ limit: 100 })).entries),
  byFlow: await time(async () => (await svc.search({ limit: 100, flow: 'main-menu' })).entries),
  byOriginalTo: await time(async () => (await svc.search({ limit: 100, originalTo: 'sip:desk-7@example.com' })).entries),
  byParticipant: await time(async () => (await svc.search({ limit: 100, participant: `sip:user-${(N - 1) % 20_000}@example.com` })).entries),
  byAbsentParticipantFullScan: await time(async () => (await svc.search({ limit: 100, participant: 'sip:nobody@example.com' })).entries),
  byOneDay: await time(async () => (await svc.search({ limit: 1000, since: day, until: day + 86_400_000 })).entries),
  heldOnly: await time(async () => (await svc.search({ limit: 1000, held: true })).entries),
  tenPagesByCursor: await time(async () => {
    let cursor: string | undefined;
    let n = 0;
    for (let p = 0; p < 10; p++) {
      const page = await svc.search({ limit: 100, flow: 'record-notice', cursor });
      n += page.entries.length;
      cursor = page.next ?? undefined;
    }
    return n;
  }),
  newestPageWithSidecarsRead: await time(async () => {
    const page = await svc.search({ limit: 100 });
    return Promise.all(page.entries.map(async (e) => JSON.parse(await readFile(join(dir, `${e.id}.json`), 'utf8')) as unknown));
  }),
};
svc.close();
await svc.settled();
const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadavg: loadavg() },
  recordings: N,
  namesInFolder: N * 3,
  generateSeconds: +(gen.ms / 1000).toFixed(1),
  startWithoutIndexMs: Math.round(cold.ms),
  startWithoutIndexParts: cold.stats,
  startWithIndexMs: Math.round(warm.ms),
  startWithIndexParts: warm.stats,
  indexHeapMB: +warm.heapMB.toFixed(1),
  queries,
};
rmSync(root, { recursive: true, force: true });
const out = resolve(import.meta.dirname, 'results', 'recording-search.json');
mkdirSync(resolve(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
console.log(`written to ${out}`);

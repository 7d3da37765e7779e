// npm run bench:rec-io — what the recording I/O thread (src/recording/io/) costs per
// recorded call, without SIP or media: the recordings of bench:calls's record-notice
// gateway (8 kHz room, mix + stereo + a stem per leg, sidecar, compliance signing and
// audit log) started at BENCH_RATE per second for BENCH_SECONDS, each fed its room's
// ticks in real time for BENCH_HOLD_MS (the callee leg joins after 350 ms), then closed
// and finalized. CPU from /proc by thread (the I/O thread names itself parley-rec-io;
// `other` is libuv's pool, where fsync and the hash read-back run, and V8's helpers),
// from the first start until every recording is finalized, per recording; the I/O
// calls per recording by kind; with PARLEY_REC_IO_STATS=1 (set here) the thread's own
// wall time per call kind. Writes bench/results/rec-io-cost.json (BENCH_RESULT to
// change the name).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
process.env.PARLEY_REC_IO_STATS ??= '1';
const { RecordingService } = await import('../src/recording/recording-service.ts');
const { ComplianceService } = await import('../src/recording/compliance/compliance-service.ts');
const { SigningKey } = await import('../src/recording/compliance/signing-key.ts');
const { recordingIo } = await import('../src/recording/io/recording-io.ts');
const { silentLogger } = await import('../src/util/logger.ts');
const { ToneRoom } = await import('../test/helpers/mix-ticks.ts');
const { threadGroupsCpuMs } = await import('./lib/proc-cpu.ts');
import type { Recorder } from '../src/recording/recorder.ts';
import type { MixTick } from '../src/mixer/frames.ts';
import type { RecordingIoThreadStats } from '../src/recording/io/recording-io.ts';

const RATE = Number(process.env.BENCH_RATE ?? 40);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const HOLD_MS = Number(process.env.BENCH_HOLD_MS ?? 5000);
const FLUSH_MS = Number(process.env.BENCH_FLUSH_MS ?? 250);
const SAMPLE_RATE = 8000;
const CALLEE_JOINS_MS = 350;
const root = resolve(new URL('..', import.meta.url).pathname);
const dir = mkdtempSync(join(tmpdir(), 'parley-bench-rec-io-'));
const log = silentLogger();

// One ring of ticks per leg set, shared by every recording (recorders copy the samples).
const RING = 50;
function ring(legs: string[]): MixTick[] {
  const room = new ToneRoom(SAMPLE_RATE);
  legs.forEach((id, i) => room.legs.set(id, 440 + 200 * i));
  return Array.from({ length: RING }, () => room.next());
}
const callerOnly = ring(['a']);
const both = ring(['a', 'b']);

interface Live {
  rec: Recorder;
  t0: number;
  ticks: number;
  calleeIn: boolean;
}

const svc = new RecordingService({ dir, postProcess: 'none', flushIntervalMs: FLUSH_MS, log });
const compliance = await ComplianceService.start({ dir, keyFile: null, auditLog: null, retention: { days: null, sweepIntervalSec: 0 }, log, key: SigningKey.ephemeral() });
compliance.attach(svc);
const io = recordingIo();
// The thread starts with the first call; its CPU before the run is subtracted.
await io.sizes([]);
// (callsByKind and threadStats are missing in older trees: an A/B against one runs without them.)
const kindsOf = (): Record<string, number> => ({ ...((io as { callsByKind?: Record<string, number> }).callsByKind ?? {}) });
const statsOf = async (): Promise<RecordingIoThreadStats | null> => (typeof io.threadStats === 'function' ? io.threadStats().catch(() => null) : null);
const kinds0 = kindsOf();
const stats0 = await statsOf();
const batches0 = io.batches;
const load0 = loadavg()[0];
const cpu0 = threadGroupsCpuMs(process.pid, ['parley-rec-io']);
const started = performance.now();

const live = new Set<Live>();
const finalized: Promise<unknown>[] = [];
let made = 0;
const total = Math.round(RATE * SECONDS);
const ticker = setInterval(() => {
  const now = performance.now();
  while (made < total && now - started >= (made * 1000) / RATE) {
    const rec = svc.createRecorder({ roomId: `bench-${made}`, sampleRate: SAMPLE_RATE, stereo: true, stems: true, labels: { flow: 'record-notice' } });
    rec.addLeg('a', { uri: `sip:caller-${made}@bench`, role: 'caller' });
    rec.markNotice('bench-notice');
    finalized.push(rec.finalized);
    live.add({ rec, t0: now, ticks: 0, calleeIn: false });
    made++;
  }
  for (const l of live) {
    const elapsed = now - l.t0;
    if (!l.calleeIn && elapsed >= CALLEE_JOINS_MS) {
      l.rec.addLeg('b', { uri: 'sip:callee@bench', role: 'other' });
      l.calleeIn = true;
    }
    const due = Math.floor(Math.min(elapsed, HOLD_MS) / 20);
    for (; l.ticks < due; l.ticks++) {
      const t = (l.calleeIn ? both : callerOnly)[l.ticks % RING]!;
      l.rec.writeTick({ timeMs: l.ticks * 20, mix: t.mix, legs: t.legs });
    }
    if (elapsed >= HOLD_MS) {
      l.rec.close();
      live.delete(l);
    }
  }
  if (made >= total && live.size === 0) clearInterval(ticker);
}, 10);

await new Promise<void>((r) => {
  const wait = setInterval(() => {
    if (made >= total && live.size === 0) {
      clearInterval(wait);
      r();
    }
  }, 50);
});
await Promise.all(finalized);
await compliance.settled();
const wallMs = performance.now() - started;
const cpu1 = threadGroupsCpuMs(process.pid, ['parley-rec-io']);
const stats1 = await statsOf();
const load1 = loadavg()[0];

const per = (x: number): number => +(x / total).toFixed(3);
const cpuPerRecordingMs: Record<string, number> = {};
for (const k of Object.keys(cpu1)) cpuPerRecordingMs[k] = per(cpu1[k]! - (cpu0[k] ?? 0));
const callsPerRecording: Record<string, number> = {};
for (const [k, n] of Object.entries(kindsOf())) if (k !== 'stats') callsPerRecording[k] = per(n - (kinds0[k] ?? 0));
const threadUsPerCall: Record<string, { perRecording: number; usEach: number; msPerRecording: number }> = {};
let threadMs = 0;
if (stats0 && stats1) {
  for (const [k, v] of Object.entries(stats1.ops)) {
    if (k === 'stats') continue;
    const v0 = stats0.ops[k] ?? { n: 0, ms: 0, bytes: 0 };
    const n = v.n - v0.n;
    const ms = v.ms - v0.ms;
    threadUsPerCall[k] = { perRecording: per(n), usEach: n > 0 ? +((ms * 1000) / n).toFixed(1) : 0, msPerRecording: per(ms) };
  }
  threadMs = stats1.batchMs - stats0.batchMs;
}
const result = {
  date: new Date().toISOString(),
  command: 'npm run bench:rec-io',
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadavg1Before: +load0.toFixed(2), loadavg1After: +load1.toFixed(2) },
  method: `${total} recordings started at ${RATE}/s (8 kHz room: mix, stereo, a stem per leg (caller, callee after ${CALLEE_JOINS_MS} ms), sidecar; compliance signing and audit log), each fed ${HOLD_MS} ms of ticks in real time, flushed every ${FLUSH_MS} ms, then closed and finalized; CPU from /proc by thread from the first start until every recording was finalized`,
  recordings: total,
  wallSeconds: +(wallMs / 1000).toFixed(1),
  cpuPerRecordingMs,
  ioBatchesPerRecording: per(io.batches - batches0),
  callsPerRecording,
  // Wall time inside the thread's batch handler (every synchronous call and the answer's post), per recording.
  threadBatchHandlerMsPerRecording: per(threadMs),
  threadUsPerCall,
};
console.log(JSON.stringify(result, null, 2));
writeFileSync(resolve(root, 'bench/results', process.env.BENCH_RESULT ?? 'rec-io-cost.json'), JSON.stringify(result, null, 2) + '\n');
svc.close();
compliance.close();
await compliance.settled();
// BENCH_KEEP=1 keeps the recordings (and does not free thousands of inodes that the next
// run's creates would skip one by one: interleaved A/B runs keep their folders).
if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
else console.log(`recordings kept in ${dir}`);
process.exit(0);

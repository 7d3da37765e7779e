// npm run bench:recording — what recording costs:
// 1. the media path: N rooms of 3 legs recorded in real time (20 ms interval) for a
//    few seconds; time spent in writeTick per room per tick, and event-loop delay
//    (which includes the flush timer's work);
// 2. closing: recordings closed per second (each: mix, stereo, 3 stems, sidecar);
//    and the same with compliance on: finalized, signed (Ed25519 signature file) and
//    logged (audit entries created + finalized, fsync'd) per second;
// 3. post-processing: files encoded per second and real-time factor (audio seconds
//    per wall second) for ogg/opus and mp3, one ffmpeg at a time.
// 4. encryption at rest: CPU per recorded minute (sealing alone, and a whole
//    recorder plain vs encrypted); 5. recordings uploaded and verified per second
//    to a local S3-compatible server (s3rver), see bench/lib/recording-store-bench.ts.
// Prints a summary and writes bench/results/recording.json.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Recorder } from '../src/recording/recorder.ts';
import { ComplianceService } from '../src/recording/compliance/compliance-service.ts';
import { SigningKey } from '../src/recording/compliance/signing-key.ts';
import { RecordingService } from '../src/recording/recording-service.ts';
import { silentLogger } from '../src/util/logger.ts';
import { ToneRoom } from '../test/helpers/mix-ticks.ts';
import { encryptionCost, uploadRate } from './lib/recording-store-bench.ts';

const ROOMS = Number(process.env.BENCH_ROOMS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLOSE_RECORDINGS = Number(process.env.BENCH_CLOSE ?? 100);
const POST_FILES = Number(process.env.BENCH_POST ?? 6);
const root = mkdtempSync(join(tmpdir(), 'parley-bench-rec-'));
const log = silentLogger();

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function mediaPath(rate: number, roomCount = ROOMS): Promise<Record<string, number>> {
  const svc = new RecordingService({ dir: join(root, `rt-${rate}`), postProcess: 'none', log });
  const rooms = Array.from({ length: roomCount }, (_, i) => {
    const room = new ToneRoom(rate);
    room.legs.set('a', 300 + i).set('b', 1000 + i).set('c', 700 + i);
    const rec = svc.createRecorder({ roomId: `bench-${i}`, sampleRate: rate });
    // Call control announces legs when they join (outside the tick).
    for (const id of room.legs.keys()) rec.addLeg(id, { uri: `sip:${id}@bench` });
    return { room, rec };
  });
  // Ticks are generated ahead (a ring of 1 s per room, reused) so that only writeTick
  // is timed and the bench's own garbage does not show as recorder cost.
  const ticksPerRoom = (SECONDS * 1000) / 20;
  const ring = 50;
  const pre = rooms.map((r) => Array.from({ length: ring }, () => r.room.next()));
  const perTick: number[] = [];
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  await new Promise<void>((done) => {
    let k = 0;
    const t0 = performance.now();
    const timer = setInterval(() => {
      const due = Math.min(ticksPerRoom, Math.floor((performance.now() - t0) / 20) + 1);
      while (k < due) {
        const s = performance.now();
        for (let i = 0; i < rooms.length; i++) rooms[i].rec.writeTick(pre[i][k % ring]);
        perTick.push((performance.now() - s) / Math.max(1, rooms.length));
        k++;
      }
      if (k >= ticksPerRoom) {
        clearInterval(timer);
        done();
      }
    }, 20);
  });
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  svc.close();
  perTick.sort((a, b) => a - b);
  const mean = perTick.reduce((s, v) => s + v, 0) / perTick.length;
  return {
    rooms: roomCount,
    legsPerRoom: 3,
    sampleRate: rate,
    seconds: SECONDS,
    writeTickMeanUsPerRoom: +(mean * 1000).toFixed(2),
    writeTickP99UsPerRoom: +(pct(perTick, 0.99) * 1000).toFixed(2),
    writeTickMaxUsPerRoom: +(perTick[perTick.length - 1] * 1000).toFixed(2),
    processCpuPercentOfOneCore: +(((cpu.user + cpu.system) / 1000 / (SECONDS * 1000)) * 100).toFixed(1),
    eventLoopDelayP99Ms: +(delay.percentile(99) / 1e6).toFixed(2),
    eventLoopDelayMaxMs: +(delay.max / 1e6).toFixed(2),
  };
}

function feedRecordings(svc: RecordingService, n: number, seconds: number, legs: number): Recorder[] {
  return Array.from({ length: n }, (_, i) => {
    const rec = svc.createRecorder({ roomId: `c-${i}`, sampleRate: 16000 });
    const room = new ToneRoom(16000);
    for (let l = 0; l < legs; l++) room.legs.set(`leg${l}`, 300 + 100 * l);
    room.feed(rec, seconds * 1000);
    return rec;
  });
}

async function closing(signed = false): Promise<Record<string, number>> {
  const dir = join(root, signed ? 'close-signed' : 'close');
  const svc = new RecordingService({ dir, postProcess: 'none', log });
  const compliance = signed
    ? await ComplianceService.start({ dir, keyFile: null, auditLog: null, retention: { days: null, sweepIntervalSec: 0 }, log, key: SigningKey.ephemeral() })
    : null;
  compliance?.attach(svc);
  const recs = feedRecordings(svc, CLOSE_RECORDINGS, 10, 3);
  // As in a live call, let the flush timers write the audio out before the close
  // (the close then writes only the last < 250 ms): a bench may wait on the clock.
  await new Promise((r) => setTimeout(r, 1200));
  const t0 = performance.now();
  for (const r of recs) r.close();
  const syncMs = performance.now() - t0;
  await Promise.all(recs.map((r) => r.finalized));
  const totalMs = performance.now() - t0;
  svc.close();
  compliance?.close();
  await compliance?.settled();
  const files = recs.length * 6;
  if (signed) {
    return {
      recordings: recs.length,
      audioSecondsEach: 10,
      filesPerRecording: 6,
      recordingsFinalizedAndSignedPerSecond: +((recs.length / totalMs) * 1000).toFixed(1),
    };
  }
  return {
    recordings: recs.length,
    audioSecondsEach: 10,
    filesPerRecording: 6,
    closeSyncMsPerRecording: +(syncMs / recs.length).toFixed(3),
    recordingsClosedPerSecond: +((recs.length / totalMs) * 1000).toFixed(1),
    filesClosedAndHashedPerSecond: +((files / totalMs) * 1000).toFixed(1),
  };
}

async function postProcessing(format: 'ogg' | 'mp3'): Promise<Record<string, number>> {
  const svc = new RecordingService({ dir: join(root, `post-${format}`), postProcess: format, log });
  const t0 = performance.now();
  const recs = feedRecordings(svc, POST_FILES / 2, 30, 0); // mix + stereo, 30 s each
  for (const r of recs) r.close();
  const metas = await Promise.all(recs.map((r) => r.finalized));
  const ms = performance.now() - t0;
  svc.close();
  const files = metas.reduce((s, m) => s + m.postProcessed.length, 0);
  const audioSeconds = metas.reduce((s, m) => s + m.postProcessed.reduce((a, p) => a + p.durationMs / 1000, 0), 0);
  return {
    files,
    audioSeconds: +audioSeconds.toFixed(1),
    wallSeconds: +(ms / 1000).toFixed(2),
    filesPerSecond: +((files / ms) * 1000).toFixed(2),
    realTimeFactor: +(audioSeconds / (ms / 1000)).toFixed(1),
  };
}

const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
  // The same 20 ms loop with no recorder: what the event-loop delay is without us.
  baselineNoRecorders: await mediaPath(16000, 0),
  mediaPath16k: await mediaPath(16000),
  mediaPath48k: await mediaPath(48000),
  closing: await closing(),
  closingSigned: await closing(true),
  postProcessOgg: await postProcessing('ogg'),
  postProcessMp3: await postProcessing('mp3'),
  encryption: await encryptionCost(root),
  upload: await uploadRate(root),
};
rmSync(root, { recursive: true, force: true });
const out = resolve(import.meta.dirname, 'results', 'recording.json');
mkdirSync(resolve(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
console.log(`written to ${out}`);

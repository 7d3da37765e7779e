// npm run bench:mixer -- [--legs N] [--room K] [--seconds S] [--workers W] [--threads T]
// N SIP-like legs in rooms of K, real RTP over loopback through real mediasoup
// workers and Parley's mixer. The load generator is a child process. Prints
// and writes bench/results/mixer.json: CPU per leg per 20 ms frame (Parley's
// Node process + its mediasoup workers), late/skipped mixer ticks, packets
// missing at the receivers, and click → mixed-packet latency.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/config/schema.ts';
import { MediaEngine } from '../src/media-plane/media-engine.ts';
import { createLogger } from '../src/util/logger.ts';
import { LoadGenerator } from './lib/load-generator.ts';
import { openParleyRooms, sumClockStats } from './lib/parley-rooms.ts';
import { percentile as pct, procCpuMs, threadCpuMs } from './lib/proc-cpu.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { legs: { type: 'string', default: '400' }, room: { type: 'string', default: '10' }, seconds: { type: 'string', default: '10' }, workers: { type: 'string', default: '2' }, threads: { type: 'string', default: '2' } },
});
const N = Number(values.legs);
const K = Number(values.room);
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers);
/** Media threads running the rooms (0: Parley's main thread, as before media threads). */
const THREADS = Number(values.threads);

async function main(): Promise<void> {
  const log = createLogger({ level: 'error', pretty: false });
  const engine = await MediaEngine.create({ ...defaultConfig.media, workers: WORKERS, threads: THREADS, rtpPortRange: { min: 40000, max: 49999 } }, log);
  const generator = await LoadGenerator.start(N, K, SECONDS);
  const { rooms, targets } = await openParleyRooms(engine, generator.ports, K);
  await generator.connect(targets);
  // Warm-up: jitter buffers.
  await generator.run(2);
  // Room stats from media threads are snapshots: take fresh ones at both ends of the window.
  await engine.nextStats();
  const pids = engine.workerPids;
  const w0 = pids.map(procCpuMs);
  const c0 = process.cpuUsage();
  const th0 = threadCpuMs();
  const ticks0 = rooms.map((r) => ({ ...r.mixerStats }));
  const sum0 = sumClockStats(rooms);
  const t0 = performance.now();
  const res = await generator.run(SECONDS);
  await engine.nextStats();
  const elapsedMs = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  const th1 = threadCpuMs();
  // The busiest threads of Parley's process (the media threads, then the main thread), % of a core each.
  const perThread = [...th1].map(([tid, ms]) => ({ tid, percentOfCore: Math.round((1000 * (ms - (th0.get(tid) ?? 0))) / elapsedMs) / 10 })).sort((a, b) => b.percentOfCore - a.percentOfCore).slice(0, THREADS + 2);
  const workerCpuMs = pids.map(procCpuMs).reduce((s, v, i) => s + v - w0[i], 0);
  const nodeCpuMs = (c1.user + c1.system) / 1000;
  const sum1 = sumClockStats(rooms);
  const busyMs = sum1.busyMs - sum0.busyMs;
  const ticks = sum1.ticks - sum0.ticks;
  const late = sum1.late - sum0.late;
  const skipped = sum1.skipped - sum0.skipped;
  const frames = (N * elapsedMs) / 20;
  // Every tick of a room's clock sends one packet to each of its legs.
  const expectedPackets = rooms.reduce((sum, r, i) => sum + (r.mixerStats.ticks - ticks0[i].ticks) * r.size, 0);
  const receivedPackets = res.received.reduce((a, b) => a + b, 0);
  const lat = [...res.latencies].sort((a, b) => a - b);
  const result = {
    date: new Date().toISOString(),
    legs: N,
    roomSize: K,
    rooms: rooms.length,
    workers: WORKERS,
    mediaThreads: THREADS,
    cores: availableParallelism(),
    seconds: Math.round(elapsedMs) / 1000,
    cpu: {
      nodeMixerPercentOfCore: (100 * nodeCpuMs) / elapsedMs,
      busiestThreadsPercentOfCore: perThread,
      mediasoupWorkersPercentOfCore: (100 * workerCpuMs) / elapsedMs,
      loadGeneratorPercentOfCore: (100 * res.generatorCpuMs) / elapsedMs,
      microsPerLegPerFrame: {
        total: ((nodeCpuMs + workerCpuMs) * 1000) / frames,
        node: (nodeCpuMs * 1000) / frames,
        /** Of node: the mixer's tick work (decode, mix-minus, limiter, encode, send calls). */
        nodeMixerTicks: (busyMs * 1000) / frames,
        workers: (workerCpuMs * 1000) / frames,
      },
      legsPerCoreAtThisCost: Math.floor(20000 / (((nodeCpuMs + workerCpuMs) * 1000) / frames)),
    },
    mixerTicks: { ticks, late, skipped, latePercent: (100 * (late + skipped)) / Math.max(1, ticks + skipped) },
    // Sent by the mixers during the window vs received by the legs during the generator's run (edges differ by a tick or two).
    packetsToLegs: { sentByMixers: expectedPackets, receivedByLegs: receivedPackets, missingPercent: Math.max(0, (100 * (expectedPackets - receivedPackets)) / expectedPackets) },
    addedLatencyMs: { samples: lat.length, p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat[lat.length - 1] },
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'mixer.json'), JSON.stringify(result, null, 2) + '\n');
  generator.close();
  engine.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// npm run bench:mixer -- [--legs N] [--room K] [--seconds S] [--workers W]
// N SIP-like legs in rooms of K, real RTP over loopback through real mediasoup
// workers and Parley's mixer. The load generator is a child process. Prints
// and writes bench/results/mixer.json: CPU per leg per 20 ms frame (Parley's
// Node process + its mediasoup workers), late/skipped mixer ticks, packets
// missing at the receivers, and click → mixed-packet latency.
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/config/schema.ts';
import { MediaEngine } from '../src/media-plane/media-engine.ts';
import type { MediaRoom } from '../src/media-plane/media-room.ts';
import { createLogger } from '../src/util/logger.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { legs: { type: 'string', default: '400' }, room: { type: 'string', default: '10' }, seconds: { type: 'string', default: '10' }, workers: { type: 'string', default: '2' } },
});
const N = Number(values.legs);
const K = Number(values.room);
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers);

function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(parts[11]) + Number(parts[12])) * 1000) / 100; // clock ticks at USER_HZ 100
}

function sdp(port: number): string {
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:101 telephone-event/8000', 'a=ptime:20', 'a=rtcp-mux'].join('\r\n') + '\r\n';
}

function ask<T>(child: ReturnType<typeof fork>, msg: object): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg);
  });
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

async function main(): Promise<void> {
  const log = createLogger({ level: 'error', pretty: false });
  const engine = await MediaEngine.create({ ...defaultConfig.media, workers: WORKERS, rtpPortRange: { min: 40000, max: 49999 } }, log);
  const child = fork(join(here, 'load-peers.ts'), [], { execArgv: ['--import', 'tsx'] });
  const { ports } = await ask<{ ports: number[] }>(child, { cmd: 'bind', n: N, k: K });
  const rooms: MediaRoom[] = [];
  const ourPorts: number[] = [];
  for (let i = 0; i < N; i++) {
    if (i % K === 0) rooms.push(await engine.createRoom(`bench-${i / K}`));
    const { answer } = await rooms[rooms.length - 1].createLeg(sdp(ports[i]), { id: `leg-${i}` });
    ourPorts.push(Number(/m=audio (\d+)/.exec(answer)![1]));
  }
  await ask(child, { cmd: 'connect', ports: ourPorts });
  // Warm-up: SSRC discovery, jitter buffers.
  await ask(child, { cmd: 'run', seconds: 2 });
  const pids = engine.workerPids;
  const w0 = pids.map(procCpuMs);
  const c0 = process.cpuUsage();
  const ticks0 = rooms.map((r) => ({ ...r.mixerStats }));
  const t0 = performance.now();
  const res = await ask<{ received: number[]; latencies: number[]; generatorCpuMs: number }>(child, { cmd: 'run', seconds: SECONDS });
  const elapsedMs = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  const workerCpuMs = pids.map(procCpuMs).reduce((s, v, i) => s + v - w0[i], 0);
  const nodeCpuMs = (c1.user + c1.system) / 1000;
  let ticks = 0;
  let late = 0;
  let skipped = 0;
  let busyMs = 0;
  rooms.forEach((r, i) => {
    busyMs += r.mixerStats.busyMs - ticks0[i].busyMs;
    ticks += r.mixerStats.ticks - ticks0[i].ticks;
    late += r.mixerStats.late - ticks0[i].late;
    skipped += r.mixerStats.skipped - ticks0[i].skipped;
  });
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
    cores: availableParallelism(),
    seconds: Math.round(elapsedMs) / 1000,
    cpu: {
      nodeMixerPercentOfCore: (100 * nodeCpuMs) / elapsedMs,
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
  child.send({ cmd: 'exit' });
  engine.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// One measured window of a mixing server under the load generator's traffic,
// the same for Parley and Janus: the CPU of the server's own processes over
// the window, and what the generator's legs received (see arrival-grid.ts).
import { performance } from 'node:perf_hooks';
import type { LoadGenerator } from './load-generator.ts';
import { percentile, totalCpuMs } from './proc-cpu.ts';

export interface MixingFigures {
  legs: number;
  cpuMicrosPerLegPerFrame: number;
  /** 20 ms of one core divided by the CPU one leg costs per frame; null when this load was already too late. */
  legsPerCore: number | null;
  latePercent: number;
  missingPercent: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export interface MixingWindow {
  figures: MixingFigures;
  /** Not part of the comparison: for the console. */
  extra: {
    seconds: number;
    serverCpuPercentOfCore: number;
    otherServerCpuPercentOfCore: number;
    /** The busiest generator process's CPU, in percent of one core. */
    generatorCpuPercentOfCore: number;
    /** How many processes generated the load (load-generator.ts generatorProcesses). */
    generatorProcesses: number;
    /** The generator's own lateness (load-generator.ts GeneratorReply), ms. */
    generatorSendLagP99Ms: number;
    generatorLoopDelayP99Ms: number;
    generatorLoopDelayMaxMs: number;
    clicks: number;
    clicksLost: number;
    /** Over the legs: the worst 99th-percentile and the largest arrival offset above a leg's earliest, ms. */
    offsetP99Ms: number;
    offsetMaxMs: number;
    /** RTP timestamp jumps and SSRC changes the legs saw (a server restarting its stream). */
    resyncs: number;
  };
}

/** Late plus missing frames at or above this share make a load invalid for legs per core. */
export const MAX_LATE_PERCENT = 0.5;

const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** otherPids: the other server's processes, which should sit idle meanwhile (reported, not counted). */
export async function measureWindow(generator: LoadGenerator, serverPids: number[], legs: number, seconds: number, otherPids: number[] = []): Promise<MixingWindow> {
  const other0 = totalCpuMs(otherPids);
  const cpu0 = totalCpuMs(serverPids);
  const t0 = performance.now();
  const reply = await generator.run(seconds);
  const elapsedMs = performance.now() - t0;
  const cpuMs = totalCpuMs(serverPids) - cpu0;
  const otherCpuMs = totalCpuMs(otherPids) - other0;
  const frames = (legs * elapsedMs) / 20;
  let expected = 0;
  let late = 0;
  let missing = 0;
  for (const g of reply.grids) {
    expected += g.expected;
    late += g.late;
    missing += g.missing;
  }
  // A leg that heard nothing expected a whole window of frames.
  const silentLegs = reply.grids.filter((g) => g.received === 0).length;
  expected += silentLegs * Math.round(elapsedMs / 20);
  missing += silentLegs * Math.round(elapsedMs / 20);
  const latePercent = expected ? (100 * late) / expected : 100;
  const missingPercent = expected ? (100 * missing) / expected : 100;
  const micros = (cpuMs * 1000) / frames;
  const lat = [...reply.latencies].sort((a, b) => a - b);
  return {
    figures: {
      legs,
      cpuMicrosPerLegPerFrame: round(micros),
      legsPerCore: latePercent + missingPercent < MAX_LATE_PERCENT && micros > 0 ? Math.floor(20000 / micros) : null,
      latePercent: round(latePercent, 3),
      missingPercent: round(missingPercent, 3),
      latencyP50Ms: round(percentile(lat, 50)),
      latencyP99Ms: round(percentile(lat, 99)),
    },
    extra: {
      seconds: round(elapsedMs / 1000),
      serverCpuPercentOfCore: round((100 * cpuMs) / elapsedMs, 1),
      otherServerCpuPercentOfCore: round((100 * otherCpuMs) / elapsedMs, 1),
      generatorCpuPercentOfCore: round((100 * reply.generatorCpuMs) / elapsedMs, 1),
      generatorProcesses: reply.processes ?? 1,
      generatorSendLagP99Ms: reply.sendLagP99Ms,
      generatorLoopDelayP99Ms: reply.loopDelayP99Ms,
      generatorLoopDelayMaxMs: reply.loopDelayMaxMs,
      clicks: lat.length,
      clicksLost: reply.clicksLost,
      offsetP99Ms: round(Math.max(0, ...reply.grids.map((g) => g.offsetP99Ms)), 1),
      offsetMaxMs: round(Math.max(0, ...reply.grids.map((g) => g.offsetMaxMs)), 1),
      resyncs: reply.grids.reduce((sum, g) => sum + g.resyncs, 0),
    },
  };
}

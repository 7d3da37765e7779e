// bench:mixing's ramp to saturation: for one room size, Parley and Janus take turns at
// each leg count (more legs each time); a server stops at the first count where its
// late + missing frames reach MAX_LATE_PERCENT (bench/mixing-compare.ts runs a failing
// window once more before it counts). What a server sustained is
// then measured, not extrapolated from one load. The load generator runs in one or more
// Node processes (load-generator.ts): when the busiest used most of a core itself, or
// its loop was a frame late, the window is flagged generatorBound (the limit may be the
// generator's, not the server's).
import { MAX_LATE_PERCENT, type MixingWindow } from './measure.ts';

export interface RampWindow {
  legs: number;
  cpuMicrosPerLegPerFrame: number;
  latePercent: number;
  missingPercent: number;
  latencyP99Ms: number;
  serverCpuPercentOfCore: number;
  generatorCpuPercentOfCore: number;
  generatorProcesses: number;
  /** The generator's own lateness, ms: its send timer (p99) and event loop delay (p99, max). */
  generatorSendLagP99Ms: number;
  generatorLoopDelayP99Ms: number;
  generatorLoopDelayMaxMs: number;
  generatorBound: boolean;
  clean: boolean;
}

export interface RampResult {
  /** The most legs with late + missing frames under MAX_LATE_PERCENT; 0 when none was. */
  maxCleanLegs: number;
  /** The server's CPU at that load, in percent of one core. */
  serverCpuPercentOfCoreAtMax: number | null;
  /** The first leg count that was not clean; null when every one tried was. */
  firstFailingLegs: number | null;
  /** The ramp ended on the generator's limit rather than the server's. */
  generatorBound: boolean;
  windows: RampWindow[];
}

/** A generator using this much of one core is near its own limit. */
const GENERATOR_BUSY_PERCENT = 85;
/** A generator whose event loop is this late (p99) stamps arrivals a frame late itself (arrival-grid.ts LATE_MS). */
const LATE_LOOP_MS = 20;

export function rampWindow(w: MixingWindow): RampWindow {
  const bad = w.figures.latePercent + w.figures.missingPercent;
  return {
    legs: w.figures.legs,
    cpuMicrosPerLegPerFrame: w.figures.cpuMicrosPerLegPerFrame,
    latePercent: w.figures.latePercent,
    missingPercent: w.figures.missingPercent,
    latencyP99Ms: w.figures.latencyP99Ms,
    serverCpuPercentOfCore: w.extra.serverCpuPercentOfCore,
    generatorCpuPercentOfCore: w.extra.generatorCpuPercentOfCore,
    generatorProcesses: w.extra.generatorProcesses,
    generatorSendLagP99Ms: w.extra.generatorSendLagP99Ms,
    generatorLoopDelayP99Ms: w.extra.generatorLoopDelayP99Ms,
    generatorLoopDelayMaxMs: w.extra.generatorLoopDelayMaxMs,
    // Busy, or so late itself that its arrival stamps are a frame off.
    generatorBound: w.extra.generatorCpuPercentOfCore >= GENERATOR_BUSY_PERCENT || w.extra.generatorLoopDelayP99Ms >= LATE_LOOP_MS,
    clean: bad < MAX_LATE_PERCENT,
  };
}

export function emptyRamp(): RampResult {
  return { maxCleanLegs: 0, serverCpuPercentOfCoreAtMax: null, firstFailingLegs: null, generatorBound: false, windows: [] };
}

/** Adds a window to a server's ramp; returns whether the ramp goes on. */
export function addRampWindow(r: RampResult, w: RampWindow): boolean {
  r.windows.push(w);
  if (w.clean) {
    r.maxCleanLegs = w.legs;
    r.serverCpuPercentOfCoreAtMax = w.serverCpuPercentOfCore;
    return true;
  }
  r.firstFailingLegs = w.legs;
  r.generatorBound = w.generatorBound;
  return false;
}

export function rampLine(name: string, w: RampWindow): string {
  return `  ramp ${name.padEnd(14)} ${String(w.legs).padStart(5)} legs: ${w.cpuMicrosPerLegPerFrame.toFixed(1)} µs/leg/frame, late ${w.latePercent.toFixed(3)} %, missing ${w.missingPercent.toFixed(3)} %, p99 ${w.latencyP99Ms.toFixed(1)} ms, server ${w.serverCpuPercentOfCore} %, generator ${w.generatorCpuPercentOfCore} % (busiest of ${w.generatorProcesses}; send lag p99 ${w.generatorSendLagP99Ms} ms, loop delay p99/max ${w.generatorLoopDelayP99Ms}/${w.generatorLoopDelayMaxMs} ms)${w.generatorBound ? ' (generator-bound)' : ''}${w.clean ? '' : ' — over 0.5 %'}`;
}

// The ramp of bench:calls and bench:bridge: several variants (a server, with or without
// the CPU hog) take turns at each rate, so that they meet the same machine; a variant
// stops at its first step that is not clean. Bounded: no new step starts after the
// deadline. Also the per-variant figures the results JSON reports.
import { runStep, stepLine, type CallServer, type Step } from './call-load.ts';

export interface Variant {
  key: string;
  server: CallServer;
  hog: boolean;
}

export interface RampOptions {
  rates: number[];
  stepSeconds: number;
  holdMs: number;
  callerScenario: string;
  calleeScenario: string;
  /** Epoch ms after which no new step starts. */
  deadline: number;
}

export interface VariantResult {
  server: string;
  hog: boolean;
  warmup: Step | null;
  steps: Step[];
  /** The highest rate reached (offered by SIPp at ≥ 95 % of the rate) with no failed call and every recording with sound both ways; 0 when none. */
  highestCleanRate: number;
  atThatRate: ReturnType<typeof stepFigures> | null;
  /** Why the ramp ended: the first step that was not clean, the deadline, or the last rate. */
  stoppedBecause: string;
}

export function stepFigures(s: Step) {
  return {
    rate: s.rate,
    offeredCps: s.offeredCps,
    achievedCps: s.achievedCps,
    calls: s.ok,
    concurrentCallsHeld: s.heldPeak,
    inviteTo183: { p50: s.setupMs.inviteTo183.p50, p99: s.setupMs.inviteTo183.p99 },
    inviteTo200: { p50: s.setupMs.inviteTo200.p50, p99: s.setupMs.inviteTo200.p99 },
    cpuMsPerCall: s.cpu.msPerCall,
    cpuPercentOfOneCore: s.cpu.percentOfOneCore,
    recordingsWithSoundBothWays: s.recordings.withSoundBothWays,
  };
}

export async function ramp(variants: Variant[], o: RampOptions): Promise<Map<string, VariantResult>> {
  const results = new Map<string, VariantResult>();
  for (const v of variants) results.set(v.key, { server: v.server.name, hog: v.hog, warmup: null, steps: [], highestCleanRate: 0, atThatRate: null, stoppedBecause: '' });
  const warmed = new Set<CallServer>();
  for (const v of variants) {
    if (warmed.has(v.server)) continue;
    warmed.add(v.server);
    // Not counted: the first calls fill caches (prompts) and JIT-compile the call path.
    const w = await runStep(v.server, { rate: 2, calls: 4, holdMs: 1000, callerScenario: o.callerScenario, calleeScenario: o.calleeScenario, hog: false });
    results.get(v.key)!.warmup = w;
    console.log(`warm-up ${v.server.name}: ${w.ok}/${w.offered} ok${w.good ? '' : ` — ${w.why.join('; ')}`}`);
  }
  const alive = new Set(variants.map((v) => v.key));
  for (const rate of o.rates) {
    for (const v of variants) {
      if (!alive.has(v.key)) continue;
      const r = results.get(v.key)!;
      if (Date.now() > o.deadline) {
        r.stoppedBecause = `the bench's time limit, before ${rate} calls/s`;
        alive.delete(v.key);
        continue;
      }
      const step = await runStep(v.server, { rate, calls: Math.max(1, Math.round(rate * o.stepSeconds)), holdMs: o.holdMs, callerScenario: o.callerScenario, calleeScenario: o.calleeScenario, hog: v.hog });
      r.steps.push(step);
      console.log(stepLine(step));
      if (step.good) {
        r.highestCleanRate = rate;
        r.atThatRate = stepFigures(step);
      } else {
        r.stoppedBecause = `not clean at ${rate} calls/s: ${step.why.join('; ')}`;
        alive.delete(v.key);
      }
    }
  }
  for (const key of alive) results.get(key)!.stoppedBecause = `clean at every rate tried (up to ${o.rates[o.rates.length - 1]} calls/s)`;
  return results;
}

/**
 * CPU per call of `a` over `b` at each rate both reached cleanly in this run (ratio > 1:
 * `a` costs more).
 */
export function cpuRatios(a: VariantResult | undefined, b: VariantResult | undefined): Array<{ rate: number; a: number; b: number; ratio: number }> {
  if (!a || !b) return [];
  const out: Array<{ rate: number; a: number; b: number; ratio: number }> = [];
  for (const sa of a.steps) {
    const sb = b.steps.find((s) => s.rate === sa.rate);
    if (!sa.good || !sb?.good || !(sb.cpu.msPerCall > 0)) continue;
    out.push({ rate: sa.rate, a: sa.cpu.msPerCall, b: sb.cpu.msPerCall, ratio: Math.round((sa.cpu.msPerCall / sb.cpu.msPerCall) * 100) / 100 });
  }
  return out;
}

// The figures `npm run bench` reports, gathered from each benchmark's JSON in
// bench/results/ into one summary (bench/results/summary.json). A benchmark that did
// not run leaves its part null; the chart and the README table say so.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MixingFigures } from '../measure.ts';

/** One side of a mixing room size (bench:mixing's JSON, per server): what bench/lib/measure.ts measured. */
export type MixingSide = MixingFigures;

export interface MixingRoom {
  roomSize: number;
  legs: number;
  parley: MixingSide;
  janus: MixingSide;
  /** NaN when either side has no legs per core. */
  ratioLegsPerCore: number;
}

export interface Summary {
  /** The newest `date` among the results: when the figures were measured. */
  date: string | null;
  command: string;
  machine: { cores: number | null; model: string | null };
  /** The `date` of each results file read, by benchmark. */
  sources: Record<string, string | null>;
  calls: {
    /** 0 when no rate tried was clean. */
    highestRateNoFailedCall: number;
    ratesTried: number[];
    concurrentCallsHeld: number | null;
    holdMs: number;
    noticeMs: number | null;
    inviteTo183: { p50: number | null; p99: number | null };
    inviteTo200: { p50: number | null; p99: number | null };
    cpuMsPerCall: number | null;
  } | null;
  mixing: { cores: number | null; method: string | null; rooms: MixingRoom[] } | null;
  recording: { recordingsClosedPerSecond: number; oggRealTimeFactor: number; mp3RealTimeFactor: number } | null;
  sip: { highestRateNoFailedCall: number; highestRateNoFailureAndP99Under50ms: number; p99MsAtHighestRate: number | null } | null;
  mixer: { legs: number; roomSize: number; legsPerCore: number; microsPerLegPerFrame: number; latePercent: number; latencyP50Ms: number; latencyP99Ms: number } | null;
}

type Json = Record<string, unknown>;

function readJson(dir: string, name: string): Json | null {
  const file = join(dir, name);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch {
    return null;
  }
}

/** A number at a dotted path, or null. */
function num(o: unknown, path: string): number | null {
  let v: unknown = o;
  for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Json)[k] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function str(o: unknown, key: string): string | null {
  const v = o && typeof o === 'object' ? (o as Json)[key] : undefined;
  return typeof v === 'string' ? v : null;
}

/** The ratio when bench:mixing did not state it. */
function ratioOf(r: MixingRoom): number {
  if (typeof r.ratioLegsPerCore === 'number' && Number.isFinite(r.ratioLegsPerCore)) return r.ratioLegsPerCore;
  const p = r.parley.legsPerCore;
  const j = r.janus.legsPerCore;
  return p !== null && j !== null && j > 0 ? p / j : NaN;
}

export function buildSummary(dir: string, command = 'npm run bench'): Summary {
  const calls = readJson(dir, 'calls.json');
  const mixing = readJson(dir, 'mixing.json');
  const recording = readJson(dir, 'recording.json');
  const sip = readJson(dir, 'sip.json');
  const mixer = readJson(dir, 'mixer.json');
  const sources: Record<string, string | null> = {
    calls: str(calls, 'date'),
    mixing: str(mixing, 'date'),
    recording: str(recording, 'date'),
    sip: str(sip, 'date'),
    mixer: str(mixer, 'date'),
  };
  const dates = Object.values(sources).filter((d): d is string => d !== null).sort();
  const at = (calls?.atThatRate ?? null) as Json | null;
  const rooms = Array.isArray(mixing?.rooms) ? (mixing.rooms as MixingRoom[]) : [];
  return {
    date: dates.length ? dates[dates.length - 1] : null,
    command,
    machine: {
      cores: num(calls, 'machine.cpus') ?? num(mixing, 'cores') ?? num(sip, 'machine.cpus') ?? num(mixer, 'cores'),
      model: (calls?.machine as Json | undefined)?.model as string | null ?? (recording?.machine as Json | undefined)?.model as string | null ?? null,
    },
    sources,
    calls: calls
      ? {
          highestRateNoFailedCall: num(calls, 'highestRateNoFailedCall') ?? 0,
          ratesTried: Array.isArray(calls.steps) ? (calls.steps as Json[]).map((st) => num(st, 'rate')).filter((r): r is number => r !== null) : [],
          concurrentCallsHeld: num(at, 'concurrentCallsHeld'),
          holdMs: num(calls, 'method.holdMs') ?? 0,
          noticeMs: Number(/first (\d+) ms/.exec(str(calls.method, 'notice') ?? '')?.[1] ?? NaN) || null,
          inviteTo183: { p50: num(at, 'setupMs.inviteTo183.p50'), p99: num(at, 'setupMs.inviteTo183.p99') },
          inviteTo200: { p50: num(at, 'setupMs.inviteTo200.p50'), p99: num(at, 'setupMs.inviteTo200.p99') },
          cpuMsPerCall: num(at, 'cpuMsPerCall'),
        }
      : null,
    mixing: mixing
      ? { cores: num(mixing, 'cores'), method: str(mixing, 'method'), rooms: [...rooms].sort((a, b) => a.roomSize - b.roomSize).map((r) => ({ ...r, ratioLegsPerCore: ratioOf(r) })) }
      : null,
    recording: recording
      ? {
          recordingsClosedPerSecond: num(recording, 'closing.recordingsClosedPerSecond') ?? 0,
          oggRealTimeFactor: num(recording, 'postProcessOgg.realTimeFactor') ?? 0,
          mp3RealTimeFactor: num(recording, 'postProcessMp3.realTimeFactor') ?? 0,
        }
      : null,
    sip: sip
      ? {
          highestRateNoFailedCall: num(sip, 'highestRateNoFailedCall') ?? 0,
          highestRateNoFailureAndP99Under50ms: num(sip, 'highestRateNoFailureAndP99Under50ms') ?? 0,
          p99MsAtHighestRate: num(sip, 'p99InviteTo200MsAtThatRate'),
        }
      : null,
    mixer: mixer
      ? {
          legs: num(mixer, 'legs') ?? 0,
          roomSize: num(mixer, 'roomSize') ?? 0,
          legsPerCore: num(mixer, 'cpu.legsPerCoreAtThisCost') ?? 0,
          microsPerLegPerFrame: num(mixer, 'cpu.microsPerLegPerFrame.total') ?? 0,
          latePercent: num(mixer, 'mixerTicks.latePercent') ?? 0,
          latencyP50Ms: num(mixer, 'addedLatencyMs.p50') ?? 0,
          latencyP99Ms: num(mixer, 'addedLatencyMs.p99') ?? 0,
        }
      : null,
  };
}

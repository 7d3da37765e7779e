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

/** One server's ramp in bench:calls or bench:bridge (a variant of call-ramp.ts). */
export interface CallVariantFigures {
  /** 0 when no rate tried was clean. */
  highestCleanRate: number;
  ratesTried: number[];
  /** At the highest clean rate. */
  concurrentCallsHeld: number | null;
  inviteTo183: { p50: number | null; p99: number | null };
  inviteTo200: { p50: number | null; p99: number | null };
  cpuMsPerCall: number | null;
}

/** CPU per call of Parley over the anchor's at the highest rate both were clean at in the same run. */
export interface CpuRatio {
  rate: number;
  parleyMs: number;
  anchorMs: number;
  ratio: number;
}

/** A server's ramp to saturation in bench:mixing. */
export interface MixingSaturation {
  roomSize: number;
  parleyMaxCleanLegs: number;
  janusMaxCleanLegs: number;
  /** NaN when Janus held none. */
  ratio: number;
  /** Whether each ramp ended below its last step (false: clean at every count tried, so the limit is higher). */
  parleySaturated: boolean;
  janusSaturated: boolean;
  generatorBound: boolean;
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
    /** The Kamailio + rtpengine anchor and the hog variants, when this calls.json has them. */
    anchor: CallVariantFigures | null;
    parleyHog: CallVariantFigures | null;
    anchorHog: CallVariantFigures | null;
    cpuRatio: CpuRatio | null;
    cpuRatioHog: CpuRatio | null;
  } | null;
  bridge: { parley: CallVariantFigures | null; anchor: CallVariantFigures | null; cpuRatio: CpuRatio | null } | null;
  mixing: { cores: number | null; method: string | null; rooms: MixingRoom[]; saturation: MixingSaturation[] } | null;
  recording: { recordingsClosedPerSecond: number; recordingsSignedPerSecond: number | null; oggRealTimeFactor: number; mp3RealTimeFactor: number } | null;
  sip: { highestRateNoFailedCall: number; highestRateNoFailureAndP99Under50ms: number; p99MsAtHighestRate: number | null } | null;
  mixer: { legs: number; roomSize: number; legsPerCore: number; microsPerLegPerFrame: number; latePercent: number; latencyP50Ms: number; latencyP99Ms: number } | null;
  /** bench:floor: CPU per packet of two-party forwarding alone (median of its rounds), by relay. */
  floor: { calls: number; parleyUs: number | null; parleyDgramUs: number | null; nodeUs: number | null; rtpengineUs: number | null; rtpenginePcapUs: number | null } | null;
  /** bench:siprec's largest step: two-stream SIPREC sessions against rtpengine's pcap recording. */
  siprec: {
    sessions: number;
    packetsSent: number;
    parleyLost: number | null;
    rtpengineLost: number | null;
    parleyCpuMsPerSessionSecond: number | null;
    rtpengineCpuMsPerSessionSecond: number | null;
    cpuRatio: number | null;
    generatorMaxLagMs: number | null;
    /** The 1-minute load average during Parley's run. */
    load: number | null;
  } | null;
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

function variantFigures(v: unknown): CallVariantFigures | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Json;
  const at = (o.atThatRate ?? null) as Json | null;
  return {
    highestCleanRate: num(o, 'highestCleanRate') ?? 0,
    ratesTried: Array.isArray(o.steps) ? (o.steps as Json[]).map((st) => num(st, 'rate')).filter((r): r is number => r !== null) : [],
    concurrentCallsHeld: num(at, 'concurrentCallsHeld'),
    inviteTo183: { p50: num(at, 'inviteTo183.p50'), p99: num(at, 'inviteTo183.p99') },
    inviteTo200: { p50: num(at, 'inviteTo200.p50'), p99: num(at, 'inviteTo200.p99') },
    cpuMsPerCall: num(at, 'cpuMsPerCall'),
  };
}

/** The last (highest-rate) entry of a cpuRatioParleyToAnchor list. */
function lastRatio(list: unknown): CpuRatio | null {
  if (!Array.isArray(list) || !list.length) return null;
  const r = list[list.length - 1] as Json;
  const rate = num(r, 'rate');
  const a = num(r, 'a');
  const b = num(r, 'b');
  const ratio = num(r, 'ratio');
  return rate !== null && a !== null && b !== null && ratio !== null ? { rate, parleyMs: a, anchorMs: b, ratio } : null;
}

function saturationOf(list: unknown): MixingSaturation[] {
  if (!Array.isArray(list)) return [];
  return (list as Json[]).map((r) => {
    const p = (r.parley ?? {}) as Json;
    const j = (r.janus ?? {}) as Json;
    const pl = num(p, 'maxCleanLegs') ?? 0;
    const jl = num(j, 'maxCleanLegs') ?? 0;
    return {
      roomSize: num(r, 'roomSize') ?? 0,
      parleyMaxCleanLegs: pl,
      janusMaxCleanLegs: jl,
      ratio: jl > 0 ? Math.round((pl / jl) * 100) / 100 : NaN,
      parleySaturated: num(p, 'firstFailingLegs') !== null,
      janusSaturated: num(j, 'firstFailingLegs') !== null,
      generatorBound: p.generatorBound === true || j.generatorBound === true,
    };
  }).sort((a, b) => a.roomSize - b.roomSize);
}

export function buildSummary(dir: string, command = 'npm run bench'): Summary {
  const calls = readJson(dir, 'calls.json');
  const mixing = readJson(dir, 'mixing.json');
  const recording = readJson(dir, 'recording.json');
  const sip = readJson(dir, 'sip.json');
  const mixer = readJson(dir, 'mixer.json');
  const bridge = readJson(dir, 'bridge.json');
  const siprec = readJson(dir, 'siprec.json');
  const floor = readJson(dir, 'forward-floor.json');
  const siprecSteps = Array.isArray(siprec?.steps) ? (siprec.steps as Json[]) : [];
  const siprecTop = siprecSteps.length ? siprecSteps.reduce((a, b) => ((num(b, 'sessions') ?? 0) > (num(a, 'sessions') ?? 0) ? b : a)) : null;
  const callVariants = (calls?.variants ?? {}) as Json;
  const bridgeVariants = (bridge?.variants ?? {}) as Json;
  const sources: Record<string, string | null> = {
    calls: str(calls, 'date'),
    bridge: str(bridge, 'date'),
    floor: str(floor, 'date'),
    mixing: str(mixing, 'date'),
    recording: str(recording, 'date'),
    sip: str(sip, 'date'),
    mixer: str(mixer, 'date'),
    siprec: str(siprec, 'at') ?? str(siprec, 'date'),
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
          ratesTried: variantFigures(callVariants.parley)?.ratesTried
            ?? (Array.isArray(calls.steps) ? (calls.steps as Json[]).map((st) => num(st, 'rate')).filter((r): r is number => r !== null) : []),
          concurrentCallsHeld: num(at, 'concurrentCallsHeld'),
          holdMs: num(calls, 'method.holdMs') ?? 0,
          noticeMs: Number(/first (\d+) ms/.exec(str(calls.method, 'notice') ?? '')?.[1] ?? NaN) || null,
          // Older calls.json files kept the setup times under setupMs.
          inviteTo183: { p50: num(at, 'inviteTo183.p50') ?? num(at, 'setupMs.inviteTo183.p50'), p99: num(at, 'inviteTo183.p99') ?? num(at, 'setupMs.inviteTo183.p99') },
          inviteTo200: { p50: num(at, 'inviteTo200.p50') ?? num(at, 'setupMs.inviteTo200.p50'), p99: num(at, 'inviteTo200.p99') ?? num(at, 'setupMs.inviteTo200.p99') },
          cpuMsPerCall: num(at, 'cpuMsPerCall'),
          anchor: variantFigures(callVariants.anchor),
          parleyHog: variantFigures(callVariants.parleyHog),
          anchorHog: variantFigures(callVariants.anchorHog),
          cpuRatio: lastRatio(calls.cpuRatioParleyToAnchor),
          cpuRatioHog: lastRatio(calls.cpuRatioParleyToAnchorWithHog),
        }
      : null,
    bridge: bridge
      ? { parley: variantFigures(bridgeVariants.parley), anchor: variantFigures(bridgeVariants.anchor), cpuRatio: lastRatio(bridge.cpuRatioParleyToAnchor) }
      : null,
    mixing: mixing
      ? {
          cores: num(mixing, 'cores'),
          method: str(mixing, 'method'),
          rooms: [...rooms].sort((a, b) => a.roomSize - b.roomSize).map((r) => ({ ...r, ratioLegsPerCore: ratioOf(r) })),
          saturation: saturationOf(mixing.saturation),
        }
      : null,
    recording: recording
      ? {
          recordingsClosedPerSecond: num(recording, 'closing.recordingsClosedPerSecond') ?? 0,
          recordingsSignedPerSecond: num(recording, 'closingSigned.recordingsFinalizedAndSignedPerSecond'),
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
    floor: floor
      ? {
          calls: num(floor, 'calls') ?? 0,
          parleyUs: num(floor, 'results.parley.usPerPacket'),
          parleyDgramUs: num(floor, 'results.parley-dgram.usPerPacket'),
          nodeUs: num(floor, 'results.node.usPerPacket'),
          rtpengineUs: num(floor, 'results.rtpengine.usPerPacket'),
          rtpenginePcapUs: num(floor, 'results.rtpengine-pcap.usPerPacket'),
        }
      : null,
    siprec: siprecTop
      ? {
          sessions: num(siprecTop, 'sessions') ?? 0,
          packetsSent: num(siprecTop, 'parley.packetsSent') ?? 0,
          parleyLost: num(siprecTop, 'parley.packetsLost'),
          rtpengineLost: num(siprecTop, 'rtpengine.packetsLost'),
          parleyCpuMsPerSessionSecond: num(siprecTop, 'parley.cpuMsPerSessionSecond'),
          rtpengineCpuMsPerSessionSecond: num(siprecTop, 'rtpengine.cpuMsPerSessionSecond'),
          cpuRatio: num(siprecTop, 'cpuRatioParleyToRtpengine'),
          generatorMaxLagMs: num(siprecTop, 'parley.generatorMaxLagMs'),
          load: num(siprecTop, 'parley.loadavg.0'),
        }
      : null,
  };
}

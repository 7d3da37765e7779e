// One step of a call-load bench (bench:calls, bench:bridge), the same for every server
// under test: a SIPp caller (UAC) calls the server at a rate, the server reaches a SIPp
// callee (UAS) that answers at once and echoes RTP (-rtp_echo); the caller streams a
// 440 Hz u-law tone, holds, hangs up. The server's CPU is read from /proc (its own
// processes only), setup times from wall-clock logs in both SIPp scenarios, and every
// answered call's recording is checked for sound in both directions.
import { join } from 'node:path';
import { sippCounts, startSipp } from '../../test/helpers/sipp.ts';
import { durations, parseCallTimes, peakOverlap, spread, type CallTimes, type Spread } from './call-timing.ts';
import { CpuHog } from './cpu-hog.ts';
import { cpuBetween, type TreeCpu } from './proc-cpu.ts';

export interface StepRecordings {
  /** Recordings this step left (sidecars for Parley, pcaps for rtpengine). */
  files: number;
  /** Of those, complete with sound in both directions (every stem / both RTP sources). */
  withSoundBothWays: number;
  /** Answered calls that have no complete recording with sound both ways. */
  answeredWithoutSound: number;
  problems: string[];
}

/** A server under test, as the step runner sees it. */
export interface CallServer {
  name: string;
  sipPort: number;
  /** CPU snapshots of the server's process trees, by part (e.g. kamailio, rtpengine). */
  cpu(): Record<string, TreeCpu>;
  /** Before a step: remember what is already on disk. */
  beginStep(): void;
  /** Resolves once the server holds no call and no open recording (false: still busy after timeoutMs). */
  waitIdle(timeoutMs: number): Promise<boolean>;
  /** After waitIdle: this step's recordings, against the answered calls' numbers. */
  endStep(answered: number[]): Promise<StepRecordings>;
  /** Calls and legs the server reports right now, when it can tell. */
  gauges?(): Promise<{ calls: number; legs: number }>;
  /** CPU ms so far of the server's main process by group of threads (main, media threads, …), when it can tell. */
  threads?(): Record<string, number>;
  /** Messages between the main thread and the media threads since start, by `to <type>` / `from <type>`, when the server can tell. */
  threadMessages?(): Promise<Record<string, number>>;
  /** The main event loop's delay since the last call (which restarts the window), when the server can tell. */
  loopDelay?(): Promise<LoopDelay>;
}

/** Event-loop delay of the server's main thread over a step (perf_hooks histogram, ms). */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

export interface StepOptions {
  rate: number;
  calls: number;
  holdMs: number;
  /** The caller scenario with the tone's path written in. */
  callerScenario: string;
  calleeScenario: string;
  /** Spin a CPU hog on every core during the step. */
  hog: boolean;
}

export interface Step {
  server: string;
  hog: boolean;
  /** The rate asked of SIPp. */
  rate: number;
  offered: number;
  /** INVITEs per second between the step's first and last INVITE: what SIPp really offered. */
  offeredCps: number;
  /** Calls completed per second over the same span. */
  achievedCps: number;
  /** SIPp offered at least 95 % of the rate asked: only then does the step count as that rate. */
  reached: boolean;
  ok: number;
  failed: number;
  calleeOk: number;
  setupMs: { inviteTo183: Spread; inviteToCalleeInvite: Spread; inviteTo200: Spread };
  heldPeak: number;
  serverGaugesPeak: { calls: number; legs: number } | null;
  /** The server's main event loop over the step (its first INVITE until idle again), when it reports it. */
  serverLoopDelayMs: LoopDelay | null;
  cpu: {
    parts: Record<string, number>; totalMs: number; msPerCall: number; percentOfOneCore: number; wallSeconds: number;
    /** The main process's CPU per call by group of threads (CallServer.threads), and its children's as `children`. */
    threadsMsPerCall?: Record<string, number>;
  };
  /** Messages between the main thread and the media threads per answered call, by `to <type>` / `from <type>` (CallServer.threadMessages). */
  threadMessagesPerCall?: Record<string, number>;
  /** The hog's share while the step ran (percent of one core), when there was one. */
  hogPercentOfOneCore: number | null;
  recordings: StepRecordings;
  good: boolean;
  why: string[];
}

const GAUGES_EVERY_MS = 1000;

export async function runStep(server: CallServer, o: StepOptions): Promise<Step> {
  server.beginStep();
  const hog = o.hog ? await CpuHog.start() : null;
  try {
    const timeoutS = o.calls / o.rate + o.holdMs / 1000 + 60;
    const callee = await startSipp({ scenario: o.calleeScenario, transport: 'udp', calls: o.calls, timeoutS, extra: ['-rtp_echo', '-trace_logs'] });
    let peak: { calls: number; legs: number } | null = null;
    let sampling = true;
    const sampler = (async () => {
      if (!server.gauges) return;
      peak = { calls: 0, legs: 0 };
      while (sampling) {
        const g = await server.gauges().catch(() => ({ calls: 0, legs: 0 }));
        peak = { calls: Math.max(peak.calls, g.calls), legs: Math.max(peak.legs, g.legs) };
        await new Promise((r) => setTimeout(r, GAUGES_EVERY_MS));
      }
    })();
    await server.loopDelay?.();
    const cpu0 = server.cpu();
    const threads0 = server.threads?.();
    const messages0 = await server.threadMessages?.().catch(() => undefined);
    const t0 = performance.now();
    const caller = await startSipp({
      scenario: o.callerScenario, transport: 'udp', remote: `127.0.0.1:${server.sipPort}`, calls: o.calls, rate: o.rate, timeoutS,
      extra: ['-key', 'to_uri', `sip:bob@127.0.0.1:${callee.port}`, '-d', String(o.holdMs), '-l', String(Math.max(100, o.rate * 60)), '-trace_logs'],
    });
    const callerRun = await caller.done;
    // A callee that missed an INVITE would wait for it until its timeout.
    const calleeFinished = await Promise.race([callee.done, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    if (!calleeFinished) callee.kill();
    const calleeKilled = !calleeFinished;
    const calleeRun = calleeFinished ?? (await callee.done);
    const idle = await server.waitIdle(30_000);
    const cpu1 = server.cpu();
    const threads1 = server.threads?.();
    const messages1 = await server.threadMessages?.().catch(() => undefined);
    const loopDelay = (await server.loopDelay?.().catch(() => null)) ?? null;
    const wallSeconds = (performance.now() - t0) / 1000;
    const hogPercent = hog ? hog.percentOfOneCore() : null;
    sampling = false;
    await sampler;

    const { ok, failed } = sippCounts(callerRun.stdout);
    const calleeCounts = sippCounts(calleeRun.stdout);
    const times = parseCallTimes(callerRun.logs, calleeRun.logs);
    const held: Array<[number, number]> = [];
    for (const t of times.values()) if (t.answered !== undefined && t.bye !== undefined) held.push([t.answered, t.bye]);
    const answered = [...times].filter(([, t]) => t.answered !== undefined).map(([n]) => n);
    const recordings = await server.endStep(answered);

    const parts: Record<string, number> = {};
    for (const [name, snap] of Object.entries(cpu1)) {
      const d = cpuBetween(cpu0[name] ?? { mainMs: snap.mainMs, children: new Map() }, snap);
      parts[name] = Math.round(d.mainMs + d.childrenMs);
    }
    const totalMs = Object.values(parts).reduce((a, b) => a + b, 0);
    let threadsMsPerCall: Record<string, number> | undefined;
    if (threads0 && threads1) {
      threadsMsPerCall = {};
      let inProcess = 0;
      for (const [k, v] of Object.entries(threads1)) {
        const d = v - (threads0[k] ?? 0);
        inProcess += d;
        threadsMsPerCall[k] = round(d / Math.max(1, ok), 1);
      }
      threadsMsPerCall.children = round((totalMs - inProcess) / Math.max(1, ok), 1);
    }
    let threadMessagesPerCall: Record<string, number> | undefined;
    if (messages0 && messages1) {
      threadMessagesPerCall = {};
      for (const [k, v] of Object.entries(messages1)) {
        const d = v - (messages0[k] ?? 0);
        if (d > 0) threadMessagesPerCall[k] = round(d / Math.max(1, ok), 2);
      }
    }
    const span = inviteSpan(times);
    const offeredCps = span.seconds > 0 ? round((span.count - 1) / span.seconds) : NaN;
    const achievedCps = span.seconds > 0 ? round(ok / span.seconds) : NaN;
    // SIPp paces by its own clock; a starved SIPp (hog) offers less than asked.
    const reached = Number.isFinite(offeredCps) && offeredCps >= 0.95 * o.rate;
    const failedAll = failed + Math.max(0, o.calls - ok - failed);
    const why: string[] = [];
    if (!reached) why.push(`offered only ${offeredCps} calls/s of ${o.rate}`);
    if (failedAll > 0) why.push(`${failedAll} failed at the caller`);
    if (callerRun.code !== 0) why.push(`caller SIPp exit ${callerRun.code}: ${(callerRun.errors || callerRun.stdout).trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`);
    if (calleeKilled) why.push('the callee still had calls open 10 s after the caller finished (their BYE never came)');
    if (calleeCounts.ok !== o.calls) why.push(`callee completed ${calleeCounts.ok}/${o.calls}${calleeRun.errors ? `: ${sippErrorSummary(calleeRun.errors)}` : ''}`);
    if (recordings.answeredWithoutSound > 0) why.push(`${recordings.answeredWithoutSound} answered calls without a recording with sound both ways`);
    const silent = recordings.files - recordings.withSoundBothWays;
    if (silent > 0) why.push(`${silent} of ${recordings.files} recordings without sound both ways (${recordings.problems.slice(0, 2).join('; ')})`);
    if (!idle) why.push('calls or recordings still open 30 s after the last call');
    return {
      server: server.name,
      hog: o.hog,
      rate: o.rate,
      offered: o.calls,
      offeredCps,
      achievedCps,
      reached,
      ok,
      failed: failedAll,
      calleeOk: calleeCounts.ok,
      setupMs: {
        inviteTo183: spread(durations(times, 'invite', 'early')),
        inviteToCalleeInvite: spread(durations(times, 'invite', 'callee')),
        inviteTo200: spread(durations(times, 'invite', 'answered')),
      },
      heldPeak: peakOverlap(held),
      serverGaugesPeak: peak,
      serverLoopDelayMs: loopDelay,
      cpu: {
        parts,
        totalMs,
        msPerCall: round(totalMs / Math.max(1, ok), 1),
        percentOfOneCore: round((100 * totalMs) / (wallSeconds * 1000), 1),
        wallSeconds: round(wallSeconds, 1),
        ...(threadsMsPerCall ? { threadsMsPerCall } : {}),
      },
      ...(threadMessagesPerCall ? { threadMessagesPerCall } : {}),
      hogPercentOfOneCore: hogPercent,
      recordings,
      good: why.length === 0,
      why,
    };
  } finally {
    hog?.close();
  }
}

/**
 * SIPp's error log, shortened for a step's reasons: counts of its distinct entries. An
 * entry starts "date<TAB>time<TAB>seconds: " and may run over several lines (it quotes
 * the message); "Dead call" entries (retransmissions after a call ended) fail no call.
 */
export function sippErrorSummary(log: string): string {
  const seen = new Map<string, number>();
  let dead = 0;
  for (const m of log.matchAll(/\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: ([^\r\n]*)/g)) {
    if (m[1].startsWith('Dead call')) {
      dead++;
      continue;
    }
    // The Call-ID and the quoted message differ per call: keep the request or status line's start.
    const msg = m[1].replace(/Call-Id '[^']*'/i, 'Call-Id …').replace(/received '(\S+ \S+).*$/, "received '$1 …'").slice(0, 200);
    seen.set(msg, (seen.get(msg) ?? 0) + 1);
  }
  const list = [...seen].slice(0, 3).map(([msg, count]) => `${count}× ${msg}`);
  if (dead) list.push(`${dead}× a message for a call SIPp had already ended ("Dead call")`);
  return list.join(' | ');
}

function round(v: number, digits = 2): number {
  return Math.round(v * 10 ** digits) / 10 ** digits;
}

function inviteSpan(times: Map<number, CallTimes>): { count: number; seconds: number } {
  const at = [...times.values()].map((t) => t.invite).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  return { count: at.length, seconds: at.length > 1 ? (at[at.length - 1] - at[0]) / 1000 : 0 };
}

export function stepLine(s: Step): string {
  const st = s.setupMs;
  const early = st.inviteTo183.n ? `INVITE→183 ${st.inviteTo183.p50}/${st.inviteTo183.p99} ms, ` : '';
  return `${s.server}${s.hog ? ' +hog' : ''} rate ${s.rate} (offered ${s.offeredCps}, achieved ${s.achievedCps} calls/s): ${s.ok}/${s.offered} ok, ${s.failed} failed; ` +
    `p50/p99 ${early}INVITE→200 ${st.inviteTo200.p50}/${st.inviteTo200.p99} ms; held ${s.heldPeak}; ` +
    (s.serverLoopDelayMs ? `loop delay p50/p99/max ${s.serverLoopDelayMs.p50}/${s.serverLoopDelayMs.p99}/${s.serverLoopDelayMs.max} ms; ` : '') +
    `CPU ${s.cpu.msPerCall} ms/call (${Object.entries(s.cpu.parts).map(([k, v]) => `${k} ${v}`).join(', ')} ms), ${s.cpu.percentOfOneCore} % of a core` +
    (s.cpu.threadsMsPerCall ? ` [ms/call by thread: ${Object.entries(s.cpu.threadsMsPerCall).map(([k, v]) => `${k} ${v}`).join(', ')}]` : '') +
    (s.threadMessagesPerCall ? ` [thread messages/call: ${messageSummary(s.threadMessagesPerCall)}]` : '') +
    (s.hogPercentOfOneCore !== null ? `, hog ${s.hogPercentOfOneCore} %` : '') +
    `; recordings ${s.recordings.files}, ${s.recordings.withSoundBothWays} with sound both ways` +
    (s.good ? '' : ` — NOT CLEAN: ${s.why.join('; ')}`);
}

/** The type under which Parley counts postMessage calls (a batch of messages is one). */
const POSTS = '(postMessage)';

/** `to 18 in 9.9 posts (leg.role 5, …), from 11 in 6.6 posts (reply 3, …)`: each direction's messages, its posts, its types most first. */
function messageSummary(m: Record<string, number>): string {
  return (['to', 'from'] as const)
    .map((dir) => {
      const types = Object.entries(m).filter(([k]) => k.startsWith(`${dir} `) && k !== `${dir} ${POSTS}`).sort((a, b) => b[1] - a[1]);
      const total = types.reduce((n, [, v]) => n + v, 0);
      return `${dir} ${round(total, 1)} in ${m[`${dir} ${POSTS}`] ?? 0} posts (${types.map(([k, v]) => `${k.slice(dir.length + 1)} ${v}`).join(', ')})`;
    })
    .join(', ');
}

/** The tone the callers stream and a copy of the caller scenario that plays it. */
export function scenarioPaths(root: string): { callee: string; callerTemplate: string } {
  return { callee: join(root, 'bench/scenarios/call-setup-callee.xml'), callerTemplate: join(root, 'bench/scenarios/call-setup-caller.xml') };
}

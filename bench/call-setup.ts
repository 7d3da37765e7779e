// `npm run bench:calls`: the record-notice gateway end to end under load. A SIPp caller
// (UAC) calls Parley; Parley answers with early media, starts recording (mix, stereo,
// a stem per leg), plays a short notice, bridges back-to-back to the original To, a
// SIPp callee (UAS) that answers at once and echoes RTP (-rtp_echo); the caller streams
// a 440 Hz u-law tone, holds, then hangs up. Parley runs as its own process with its
// own config, so its CPU (Node + mediasoup workers) is read from /proc apart from SIPp's.
//
// The call rate is ramped (BENCH_RATES) until a step has a failed call. Per step:
// SIPp's successes and failures, setup times from wall-clock logs in both SIPp
// scenarios, concurrent calls (SIPp's answered..BYE intervals, and Parley's
// parley_calls_active / parley_legs scraped from /metrics), CPU per call, and the
// recordings (one finalized per call, every file there, sound in both stems).
// Prints a line per step and writes bench/results/calls.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../test/helpers/free-port.ts';
import { sippCounts, startSipp } from '../test/helpers/sipp.ts';
import { durations, parseCallTimes, peakOverlap, spread, type CallTimes, type Spread } from './lib/call-timing.ts';
import { startBenchParley, type BenchParley } from './lib/parley-server.ts';
import { cpuBetween, treeCpu } from './lib/proc-cpu.ts';
import { checkRecordings, sidecarFiles } from './lib/recording-check.ts';

const RATES = (process.env.BENCH_RATES ?? '5,10,15,20,25,30').split(',').map(Number);
/** Calls offered per step: rate × this many seconds. */
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 10);
/** How long the caller holds once answered (SIPp -d). */
const HOLD_MS = Number(process.env.BENCH_HOLD_MS ?? 5000);
/** The notice (and whisper) prompt: the first this many ms of prompts/record-notice.wav. */
const NOTICE_MS = Number(process.env.BENCH_NOTICE_MS ?? 300);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';
/** Keep the recordings and the work folder (config, parley.log) to look at afterwards. */
const KEEP = process.env.BENCH_KEEP === '1';
const METRICS_EVERY_MS = 1000;

const root = resolve(new URL('..', import.meta.url).pathname);
const work = mkdtempSync(join(tmpdir(), 'parley-bench-calls-'));
const recordings = join(work, 'recordings');
const token = 'bench-calls-token-0123456789';

/** The inputs: a short notice prompt, the caller's tone, the caller scenario with the tone's path. */
function prepare(): string {
  mkdirSync(join(work, 'prompts'));
  execFileSync('sox', [join(root, 'prompts/record-notice.wav'), join(work, 'prompts/bench-notice.wav'), 'trim', '0', String(NOTICE_MS / 1000)]);
  const tone = join(work, 'caller.ul');
  execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'ul', tone, 'synth', '10', 'sine', '440', 'vol', '0.3']);
  const scenario = join(work, 'call-setup-caller.xml');
  writeFileSync(scenario, readFileSync(join(root, 'bench/scenarios/call-setup-caller.xml'), 'utf8').replace('rtp_stream="[audio]', `rtp_stream="${tone}`));
  return scenario;
}

function config(sipPort: number, apiPort: number): string {
  return `# bench:calls — Parley's config for this run (written by bench/call-setup.ts)
log: { level: ${LOG_LEVEL}, pretty: false }
sip:
  listen: [{ transport: udp, host: 127.0.0.1, port: ${sipPort} }]
  control: { host: 127.0.0.1, port: 0, secret: bench }
media: { workers: auto, rtpIp: 127.0.0.1 }
prompts: { dir: ${join(work, 'prompts')}, cacheDir: ${join(work, 'cache')} }
recording: { dir: ${recordings} }
api: { enabled: true, host: 127.0.0.1, port: ${apiPort}, token: ${token}, rulesStateFile: ${join(work, 'rules-state.json')} }
routing:
  rules:
    - name: bench-gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start, stereo: true, stems: true }
    - play: { prompt: bench-notice, notice: true }
    - bridge: { whisper: { prompt: bench-notice }, ringTimeout: 10 }
`;
}

interface Step {
  rate: number;
  offered: number;
  /** INVITEs per second between the step's first and last INVITE: what SIPp really offered. */
  offeredCps: number;
  ok: number;
  failed: number;
  calleeOk: number;
  calleeFailed: number;
  setupMs: { inviteTo183: Spread; inviteToCalleeInvite: Spread; inviteTo200: Spread };
  concurrent: {
    /** The most calls between the caller's 200 and its BYE at one time (SIPp's logs). */
    heldPeakSipp: number;
    /** rate × hold (at most the calls offered). */
    heldExpected: number;
    /** The highest parley_calls_active / parley_legs seen (scraped every second). */
    parleyCallsActivePeak: number;
    parleyLegsPeak: number;
    /**
     * Parley saw at least as many calls, and two legs for each, as SIPp held (within 5 %:
     * /metrics is read once a second and may miss the very peak; calls being set up count too).
     */
    parleyAgrees: boolean;
  };
  cpu: {
    /** Parley's Node process and its mediasoup workers, from the step's first INVITE until every recording was closed. */
    nodeMs: number;
    workersMs: number;
    msPerCall: number;
    /** Averaged over the step's wall time. */
    percentOfOneCore: number;
    wallSeconds: number;
  };
  recordings: { sidecars: number; finalized: number; complete: number; withAudioBothWays: number; answeredCallsWithoutRecording: number; problems: string[] };
  good: boolean;
  why: string[];
}

async function waitForIdle(parley: BenchParley, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const m = await parley.metrics();
    if ((m.get('parley_calls_active') ?? 0) === 0 && (m.get('parley_recordings_open') ?? 0) === 0) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function runStep(parley: BenchParley, sipPort: number, callerScenario: string, rate: number, calls: number, holdMs: number): Promise<Step> {
  const seen = new Set(sidecarFiles(recordings));
  const callee = await startSipp({
    scenario: join(root, 'bench/scenarios/call-setup-callee.xml'), transport: 'udp', calls, timeoutS: calls / rate + holdMs / 1000 + 60,
    extra: ['-rtp_echo', '-trace_logs'],
  });
  let callsPeak = 0;
  let legsPeak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const m = await parley.metrics().catch(() => new Map<string, number>());
      callsPeak = Math.max(callsPeak, m.get('parley_calls_active') ?? 0);
      legsPeak = Math.max(legsPeak, m.get('parley_legs') ?? 0);
      await new Promise((r) => setTimeout(r, METRICS_EVERY_MS));
    }
  })();
  const cpu0 = treeCpu(parley.pid);
  const t0 = performance.now();
  const caller = await startSipp({
    scenario: callerScenario, transport: 'udp', remote: `127.0.0.1:${sipPort}`, calls, rate,
    timeoutS: calls / rate + holdMs / 1000 + 60,
    extra: ['-key', 'to_uri', `sip:bob@127.0.0.1:${callee.port}`, '-d', String(holdMs), '-l', String(Math.max(100, rate * 60)), '-trace_logs'],
  });
  const callerRun = await caller.done;
  // A callee that missed an INVITE would wait for it until its timeout.
  const calleeFinished = await Promise.race([callee.done, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
  if (!calleeFinished) callee.kill();
  const calleeRun = calleeFinished ?? (await callee.done);
  const idle = await waitForIdle(parley, 30_000);
  const cpu = cpuBetween(cpu0, treeCpu(parley.pid));
  const wallSeconds = (performance.now() - t0) / 1000;
  sampling = false;
  await sampler;

  const { ok, failed } = sippCounts(callerRun.stdout);
  const calleeCounts = sippCounts(calleeRun.stdout);
  const times = parseCallTimes(callerRun.logs, calleeRun.logs);
  const held: Array<[number, number]> = [];
  for (const t of times.values()) if (t.answered !== undefined && t.bye !== undefined) held.push([t.answered, t.bye]);

  const fresh = sidecarFiles(recordings).filter((f) => !seen.has(f));
  const rec = checkRecordings(recordings, fresh);
  const answered = [...times].filter(([, t]) => t.answered !== undefined).map(([n]) => n);
  const withoutRecording = answered.filter((n) => !rec.callNumbers.has(n)).length;
  // Checked; not kept (a step can leave a few hundred MB). Parley is idle, so all are this step's.
  if (!KEEP) for (const f of readdirSafe(recordings)) rmSync(join(recordings, f), { force: true });

  const heldPeak = peakOverlap(held);
  const failedAll = failed + Math.max(0, calls - ok - failed);
  const why: string[] = [];
  if (failedAll > 0) why.push(`${failedAll} failed at the caller`);
  if (callerRun.code !== 0) why.push(`caller SIPp exit ${callerRun.code}: ${(callerRun.errors || callerRun.stdout).trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`);
  if (calleeCounts.ok !== calls) why.push(`callee completed ${calleeCounts.ok}/${calls}`);
  if (withoutRecording > 0) why.push(`${withoutRecording} answered calls without a complete recording`);
  if (rec.withAudioBothWays < rec.complete) why.push(`${rec.complete - rec.withAudioBothWays} recordings without sound in both stems`);
  if (!idle) why.push('calls or recordings still open 30 s after the last call');
  const callsDone = Math.max(1, ok);
  return {
    rate,
    offered: calls,
    offeredCps: offeredRate(times),
    ok,
    failed: failedAll,
    calleeOk: calleeCounts.ok,
    calleeFailed: calleeCounts.failed,
    setupMs: {
      inviteTo183: spread(durations(times, 'invite', 'early')),
      inviteToCalleeInvite: spread(durations(times, 'invite', 'callee')),
      inviteTo200: spread(durations(times, 'invite', 'answered')),
    },
    concurrent: {
      heldPeakSipp: heldPeak,
      heldExpected: Math.min(calls, Math.round((rate * holdMs) / 1000)),
      parleyCallsActivePeak: callsPeak,
      parleyLegsPeak: legsPeak,
      parleyAgrees: callsPeak >= 0.95 * heldPeak && legsPeak >= 2 * 0.95 * heldPeak,
    },
    cpu: {
      nodeMs: Math.round(cpu.mainMs),
      workersMs: Math.round(cpu.childrenMs),
      msPerCall: Math.round(((cpu.mainMs + cpu.childrenMs) / callsDone) * 10) / 10,
      percentOfOneCore: Math.round(((cpu.mainMs + cpu.childrenMs) / (wallSeconds * 1000)) * 1000) / 10,
      wallSeconds: Math.round(wallSeconds * 10) / 10,
    },
    recordings: { sidecars: rec.sidecars, finalized: rec.finalized, complete: rec.complete, withAudioBothWays: rec.withAudioBothWays, answeredCallsWithoutRecording: withoutRecording, problems: rec.problems },
    good: why.length === 0,
    why,
  };
}

function offeredRate(times: Map<number, CallTimes>): number {
  const at = [...times.values()].map((t) => t.invite).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  return at.length > 1 ? Math.round(((at.length - 1) / ((at[at.length - 1] - at[0]) / 1000)) * 100) / 100 : NaN;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function line(s: Step): string {
  const st = s.setupMs;
  return `rate ${String(s.rate).padStart(3)} cps: ${s.ok}/${s.offered} ok, ${s.failed} failed; setup p50/p99 INVITE→183 ${st.inviteTo183.p50}/${st.inviteTo183.p99} ms, ` +
    `→callee INVITE ${st.inviteToCalleeInvite.p50}/${st.inviteToCalleeInvite.p99} ms, →200 ${st.inviteTo200.p50}/${st.inviteTo200.p99} ms; ` +
    `held ${s.concurrent.heldPeakSipp} (Parley calls ${s.concurrent.parleyCallsActivePeak}, legs ${s.concurrent.parleyLegsPeak}${s.concurrent.parleyAgrees ? '' : ', FEWER than SIPp held'}); ` +
    `CPU ${s.cpu.msPerCall} ms/call, ${s.cpu.percentOfOneCore} % of a core; recordings ${s.recordings.complete} complete, ${s.recordings.withAudioBothWays} with sound both ways` +
    (s.good ? '' : ` — NOT CLEAN: ${s.why.join('; ')}`);
}

const callerScenario = prepare();
const sipPort = await freePort();
const apiPort = await freePort();
const loadBefore = loadavg();
const parley = await startBenchParley({ yaml: config(sipPort, apiPort), dir: work, apiPort, token });
const steps: Step[] = [];
let warmup: Step | null = null;
try {
  // Warm-up, not counted: the first call transcodes the prompt into the cache and JIT-compiles the call path.
  warmup = await runStep(parley, sipPort, callerScenario, 2, 4, 1000);
  console.log(`warm-up: ${warmup.ok}/${warmup.offered} ok${warmup.good ? '' : ` — ${warmup.why.join('; ')}`}`);
  for (const rate of RATES) {
    const step = await runStep(parley, sipPort, callerScenario, rate, Math.round(rate * STEP_SECONDS), HOLD_MS);
    steps.push(step);
    console.log(line(step));
    if (!step.good) break;
  }
} finally {
  await parley.stop();
}

const good = steps.filter((s) => s.good);
const best = good.length ? good[good.length - 1] : null;
const result = {
  date: new Date().toISOString(),
  command: 'npm run bench:calls',
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
  method: {
    flow: 'record-notice: answer (early media) → record (mix, stereo, stems) → play notice → bridge to the original To (whisper the notice to the callee)',
    notice: `the first ${NOTICE_MS} ms of prompts/record-notice.wav, as notice and as whisper`,
    caller: 'SIPp UAC, PCMU, streams a 440 Hz u-law tone (rtp_stream) once answered, holds, sends BYE',
    callee: 'SIPp UAS on loopback, answers at once (180 then 200), echoes RTP (-rtp_echo)',
    holdMs: HOLD_MS,
    stepSeconds: STEP_SECONDS,
    parley: `its own process (node --import tsx src/cli.ts start), media.workers auto, log level ${LOG_LEVEL}, control API scraped every ${METRICS_EVERY_MS} ms`,
    setupTimes: 'wall clock (gettimeofday) logged by both SIPp processes: INVITE sent → 183 received (Parley answered with early media), → the B leg INVITE received by the callee (after the notice), → 200 received (the callee answered)',
    cpu: "utime+stime of Parley's Node process and its mediasoup workers (/proc) from a step's first INVITE until its last recording closed, divided by the calls completed",
    good: 'no failed call at the caller, every callee call completed, every answered call left a finalized recording with all its files and sound in both stems',
  },
  highestRateNoFailedCall: best?.rate ?? 0,
  atThatRate: best
    ? { rate: best.rate, concurrentCallsHeld: best.concurrent.heldPeakSipp, parleyCallsActivePeak: best.concurrent.parleyCallsActivePeak, parleyLegsPeak: best.concurrent.parleyLegsPeak, parleyAgrees: best.concurrent.parleyAgrees, setupMs: best.setupMs, cpuMsPerCall: best.cpu.msPerCall, cpuPercentOfOneCore: best.cpu.percentOfOneCore, recordings: best.recordings.complete, calls: best.ok }
    : null,
  warmup,
  steps,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/calls.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify({ highestRateNoFailedCall: result.highestRateNoFailedCall, ...result.atThatRate }));
if (KEEP) console.log(`kept: ${work}`);
else rmSync(work, { recursive: true, force: true });

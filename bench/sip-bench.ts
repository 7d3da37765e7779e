// `npm run bench:sip`: SIPp calls against a minimal drachtio-srf UAS through the embedded
// server, ramping the call rate. Prints a table and writes bench/results/sip.json with the
// highest rate that had no failed call and the p99 INVITE-to-200 time at each step.
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, getPriority, loadavg } from 'node:os';
import { defaultConfig } from '../src/config/schema.ts';
import { EmbeddedSipServer } from '../src/sip/embedded-server.ts';
import { createLogger } from '../src/util/logger.ts';
import { startSipp, sippCounts } from '../test/helpers/sipp.ts';
import { StepProbe, processCpuMs, udpRcvbufErrors, type StepStats } from './step-probe.ts';

const rates = (process.env.BENCH_RATES ?? '250,500,1000,1500,2000,2500,3000').split(',').map(Number);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const transport = (process.env.BENCH_TRANSPORT ?? 'udp') as 'udp' | 'tcp';
const P99_LIMIT_MS = 50;
// A larger young generation (fewer scavenges) for the app process, as for the bench process
// itself in package.json; BENCH_APP_NODE_OPTS='' measures Node's defaults.
const appNodeOptions = process.env.BENCH_APP_NODE_OPTS ?? '--max-semi-space-size=64';

interface Step {
  rate: number;
  calls: number;
  ok: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  sippExit: number;
  /** SIPp's cumulative call rate: what it really offered. */
  offeredCps: number;
  /** Calls that completed, per second of the step. */
  completedCps: number;
  /** Whether SIPp offered at least 95 % of the nominal rate: only such a step counts. */
  reached: boolean;
  /** The machine's 1-minute load average when the step ended (other work on it skews p99). */
  loadavg1: number;
  /** CPU (percent of one core), event-loop delay and GC pauses of the server and of the app process. */
  server: StepStats;
  app: StepStats;
  /** SIPp's CPU in percent of one core (it is single-threaded: near 100 means SIPp is the limit). */
  sippCpuPct: number | null;
  /** UDP datagrams the machine dropped for full receive buffers during the step (any socket: a
   * lost 200 OK or INVITE costs that call a 500 ms retransmission). */
  udpDrops: number | null;
}

const log = createLogger({ level: 'warn', pretty: false });
const server = await EmbeddedSipServer.start({
  sip: {
    ...defaultConfig.sip,
    listen: [{ transport, host: '127.0.0.1', port: 0 }],
    control: { host: '127.0.0.1', port: 0, secret: 'bench' },
  },
  log,
});
const app = fork(new URL('./sip-bench-app.ts', import.meta.url).pathname, [String(server.controlPort), 'bench'], { execArgv: ['--import', 'tsx', ...appNodeOptions.split(' ').filter(Boolean)] });
await new Promise<void>((resolve, reject) => {
  app.once('message', () => resolve());
  app.once('exit', (code) => reject(new Error(`bench app exited with ${code}`)));
});

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The app process's stats for the step just ended. */
function appStats(): Promise<StepStats> {
  return new Promise((resolve) => {
    const onMessage = (m: { stats?: StepStats }): void => {
      if (!m.stats) return;
      app.off('message', onMessage);
      resolve(m.stats);
    };
    app.on('message', onMessage);
    app.send({ cmd: 'step-end' });
  });
}

/** Samples SIPp's CPU time while it runs (its /proc entry is gone once it exits). */
function watchCpu(pid: number | undefined): { stop(): number | null } {
  if (pid === undefined) return { stop: () => null };
  const first = processCpuMs(pid);
  const t0 = performance.now();
  let last = first;
  let tLast = t0;
  const timer = setInterval(() => {
    const v = processCpuMs(pid);
    if (v !== null) {
      last = v;
      tLast = performance.now();
    }
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      if (first === null || last === null || tLast === t0) return null;
      return Math.round(((last - first) / (tLast - t0)) * 1000) / 10;
    },
  };
}

/** The scheduler autogroup and its nice (`/autogroup-16 nice -10` under bench/with-priority.sh). */
function autogroup(): string | null {
  try {
    return readFileSync('/proc/self/autogroup', 'latin1').trim();
  } catch {
    return null;
  }
}

const probe = new StepProbe();
const loadBefore = loadavg();
console.log(`load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, nice ${getPriority()}, ${autogroup() ?? 'no autogroup'}`);
const steps: Step[] = [];
for (const rate of rates) {
  const calls = rate * seconds;
  const s = await startSipp({
    scenario: 'uac-call-bye.xml', transport, remote: `127.0.0.1:${server.sipPort()}`, calls, rate, service: 'bench',
    // -buff_size: SIPp's socket buffers default to 64 KB; when SIPp is descheduled for a few ms
    // its receive buffer overflowed and the kernel dropped responses (seen as `d` in `ss -uam`),
    // each costing its call a 500 ms retransmission. 4 MB (net.core.rmem_max here) lets SIPp read
    // them late instead, which its response times then show. It does not limit what SIPp sends.
    timeoutS: seconds + 30, extra: ['-trace_rtt', '-rtt_freq', '1', '-l', String(rate * 4), '-buff_size', String(4 * 1024 * 1024)],
  });
  probe.reset();
  app.send({ cmd: 'step-start' });
  const dropsBefore = udpRcvbufErrors();
  const sippCpu = watchCpu(s.pid);
  const stepStart = performance.now();
  const run = await s.done;
  const stepSeconds = (performance.now() - stepStart) / 1000;
  const sippCpuPct = sippCpu.stop();
  const dropsAfter = udpRcvbufErrors();
  const udpDrops = dropsBefore === null || dropsAfter === null ? null : dropsAfter - dropsBefore;
  const serverStats = probe.snapshot();
  if (process.env.BENCH_RTT_DIR) writeFileSync(`${process.env.BENCH_RTT_DIR}/rtt-${rate}.csv`, run.rtt);
  const { ok, failed } = sippCounts(run.stdout);
  // Response times (ms) from SIPp's -trace_rtt file: INVITE sent to 200 received, per call.
  const times: number[] = [];
  for (const line of run.rtt.split('\n').slice(1)) {
    const cols = line.split(';');
    if (cols.length >= 2 && cols[1] !== '') times.push(Number(cols[1]));
  }
  times.sort((a, b) => a - b);
  const step: Step = { rate, calls, ok, failed: failed + Math.max(0, calls - ok - failed), p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), sippExit: run.code, offeredCps: Number(/Call Rate\s*\|[^|]*\|\s*([\d.]+) cps/.exec(run.stdout)?.[1] ?? NaN),
    completedCps: +(ok / Math.max(seconds, stepSeconds)).toFixed(1),
    reached: false,
    loadavg1: loadavg()[0], server: serverStats, app: await appStats(), sippCpuPct, udpDrops };
  // A step counts only when SIPp really offered its rate (at least 95 % of it): a "3,000 calls/s"
  // step that SIPp could send at 2,112 calls/s says nothing about 3,000.
  step.reached = step.offeredCps >= 0.95 * rate;
  steps.push(step);
  console.log(`rate ${String(rate).padStart(5)} cps nominal: offered ${step.offeredCps} cps${step.reached ? '' : ' (not reached: the step does not count)'}, completed ${step.completedCps} cps; ${ok}/${calls} ok, ${step.failed} failed, p50 ${step.p50Ms.toFixed(2)} ms, p99 ${step.p99Ms.toFixed(2)} ms (sipp exit ${run.code}, load ${step.loadavg1.toFixed(2)})`);
  console.log(`  cpu % server ${step.server.cpuPct} app ${step.app.cpuPct} sipp ${step.sippCpuPct ?? '?'}; loop delay p99/max ms server ${step.server.loopDelayP99Ms}/${step.server.loopDelayMaxMs} app ${step.app.loopDelayP99Ms}/${step.app.loopDelayMaxMs}; gc n/total/max ms server ${step.server.gcCount}/${step.server.gcTotalMs}/${step.server.gcMaxMs} app ${step.app.gcCount}/${step.app.gcTotalMs}/${step.app.gcMaxMs}; heap MB server ${step.server.heapUsedMb} app ${step.app.heapUsedMb}; udp drops ${step.udpDrops ?? '?'}`);
  if (step.failed > 0 || !step.reached) break;
}

const clean = steps.filter((s) => s.reached && s.failed === 0 && s.sippExit === 0);
const best = clean.length ? clean[clean.length - 1] : null;
const bestWithinP99 = [...clean].reverse().find((s) => s.p99Ms < P99_LIMIT_MS) ?? null;
const result = {
  date: new Date().toISOString(),
  transport,
  secondsPerStep: seconds,
  // nice and autogroup: the scheduling priority the bench ran with (`npm run bench:sip:priority`
  // raises both; the app and SIPp inherit them, so all three stand equally against other work).
  machine: { cpus: cpus().length, node: process.version, nice: getPriority(), autogroup: autogroup(), loadavgBefore: loadBefore, loadavgAfter: loadavg() },
  nodeOptions: { server: process.execArgv.filter((a) => a.startsWith('--max')).join(' '), app: appNodeOptions },
  // Nominal rates of steps that were reached (offered at 95 % or more), with what was really offered.
  highestRateNoFailedCall: best?.rate ?? 0,
  offeredCpsAtThatRate: best?.offeredCps ?? null,
  p99InviteTo200MsAtThatRate: best?.p99Ms ?? null,
  highestRateNoFailureAndP99Under50ms: bestWithinP99?.rate ?? 0,
  target: { rate: 2000, p99Ms: P99_LIMIT_MS },
  steps,
};
mkdirSync(new URL('./results/', import.meta.url).pathname, { recursive: true });
// BENCH_RESULT names the file under bench/results (bench:sip:priority writes sip-priority.json).
writeFileSync(new URL(`./results/${process.env.BENCH_RESULT ?? 'sip.json'}`, import.meta.url).pathname, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify({ highestRateNoFailedCall: result.highestRateNoFailedCall, p99Ms: result.p99InviteTo200MsAtThatRate, highestRateNoFailureAndP99Under50ms: result.highestRateNoFailureAndP99Under50ms }));
// The app goes first, so it does not try to reconnect to a server that is gone.
// BENCH_HEAP_SNAPSHOT=FILE: the server's heap after the last step (what calls leave behind).
if (process.env.BENCH_HEAP_SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT);
probe.stop();
const exited = new Promise((r) => app.once('exit', r));
app.disconnect();
await exited;
server.close();

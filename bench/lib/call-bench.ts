// The frame of bench:calls and bench:bridge: Parley (its own process, a flow given by the
// bench) and the Kamailio + rtpengine anchor started side by side, the same SIPp callers
// and echoing callees ramped against each in turn (call-ramp.ts), optionally again with
// a CPU hog on every core, and the results written to bench/results/<file>.
// Environment: BENCH_RATES, BENCH_STEP_SECONDS, BENCH_HOLD_MS, BENCH_HOG (1/0),
// BENCH_ANCHOR (1/0), BENCH_MAX_SECONDS (no new step after it), BENCH_LOG_LEVEL, BENCH_KEEP.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../test/helpers/free-port.ts';
import { anchorCallServer, parleyCallServer } from './call-servers.ts';
import { cpuRatios, ramp, type Variant, type VariantResult } from './call-ramp.ts';
import { startKamailioRtpengine, type KamailioRtpengine } from './kamailio-rtpengine.ts';
import { startBenchParley, type BenchParley } from './parley-server.ts';

export interface CallBenchOptions {
  /** e.g. bench:calls (for the logs and the JSON). */
  name: string;
  /** The results file under bench/results. */
  resultFile: string;
  defaultRates: string;
  /** Whether the hog variants run unless BENCH_HOG says otherwise. */
  hogByDefault: boolean;
  /** Parley's whole config; `work` is this run's folder, `recordings` the recording dir. */
  parleyConfig(p: { sipPort: number; apiPort: number; token: string; work: string; recordings: string; logLevel: string }): string;
  /** Things to put in the work folder before Parley starts (prompts). */
  prepare?(work: string): void;
  /** Method text for the JSON, given the resolved settings. */
  method(s: { holdMs: number; stepSeconds: number; anchorVersion: string | null }): Record<string, unknown>;
}

export interface CallBenchResult {
  date: string;
  variants: Record<string, VariantResult>;
  cpuRatioParleyToAnchor: ReturnType<typeof cpuRatios>;
  cpuRatioParleyToAnchorWithHog: ReturnType<typeof cpuRatios>;
}

const root = resolve(new URL('../..', import.meta.url).pathname);

export async function runCallBench(o: CallBenchOptions): Promise<CallBenchResult> {
  const rates = (process.env.BENCH_RATES ?? o.defaultRates).split(',').map(Number).filter((r) => r > 0);
  const stepSeconds = Number(process.env.BENCH_STEP_SECONDS ?? 8);
  const holdMs = Number(process.env.BENCH_HOLD_MS ?? 5000);
  const hog = process.env.BENCH_HOG ? process.env.BENCH_HOG === '1' : o.hogByDefault;
  const withAnchor = process.env.BENCH_ANCHOR !== '0';
  const maxSeconds = Number(process.env.BENCH_MAX_SECONDS ?? 900);
  const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';
  const keep = process.env.BENCH_KEEP === '1';
  const started = Date.now();

  const work = mkdtempSync(join(tmpdir(), `parley-${o.name.replace(/\W/g, '-')}-`));
  const recordings = join(work, 'recordings');
  o.prepare?.(work);
  const tone = join(work, 'caller.ul');
  execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'ul', tone, 'synth', '10', 'sine', '440', 'vol', '0.3']);
  const callerScenario = join(work, 'call-setup-caller.xml');
  writeFileSync(callerScenario, readFileSync(join(root, 'bench/scenarios/call-setup-caller.xml'), 'utf8').replace('rtp_stream="[audio]', `rtp_stream="${tone}`));
  const calleeScenario = join(root, 'bench/scenarios/call-setup-callee.xml');

  const sipPort = await freePort();
  const apiPort = await freePort();
  const token = 'bench-calls-token-0123456789';
  const loadBefore = loadavg();
  let parley: BenchParley | null = null;
  let anchor: KamailioRtpengine | null = null;
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled([parley?.stop(), anchor?.stop()]);
  };
  // Bounded: a hung step must not hold the machine (and its lock) for ever.
  const hardLimit = setTimeout(() => {
    console.error(`${o.name}: still running ${maxSeconds + 300} s after the start, giving up`);
    void stopAll().finally(() => process.exit(1));
  }, (maxSeconds + 300) * 1000);
  hardLimit.unref();
  let results: Map<string, VariantResult>;
  try {
    parley = await startBenchParley({ yaml: o.parleyConfig({ sipPort, apiPort, token, work, recordings, logLevel }), dir: work, apiPort, token });
    if (withAnchor) anchor = await startKamailioRtpengine(work);
    const p = parleyCallServer(parley, sipPort, recordings, keep);
    const a = anchor ? anchorCallServer(anchor, keep) : null;
    const variants: Variant[] = [{ key: 'parley', server: p, hog: false }];
    if (a) variants.push({ key: 'anchor', server: a, hog: false });
    if (hog) {
      variants.push({ key: 'parleyHog', server: p, hog: true });
      if (a) variants.push({ key: 'anchorHog', server: a, hog: true });
    }
    console.log(`${o.name}: ${variants.map((v) => v.key).join(', ')} at ${rates.join(', ')} calls/s, ${stepSeconds} s of calls per step, ${holdMs} ms hold`);
    results = await ramp(variants, { rates, stepSeconds, holdMs, callerScenario, calleeScenario, deadline: started + maxSeconds * 1000 });
  } catch (err) {
    if (anchor) console.error(anchor.log().slice(-3000));
    throw err;
  } finally {
    await stopAll();
    clearTimeout(hardLimit);
  }

  const variants = Object.fromEntries(results);
  const result = {
    date: new Date().toISOString(),
    command: `npm run ${o.name}`,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
    method: o.method({ holdMs, stepSeconds, anchorVersion: anchor?.version ?? null }),
    rates,
    /** Parley without the hog: kept at the top for readers of the older calls.json. */
    highestRateNoFailedCall: variants.parley?.highestCleanRate ?? 0,
    atThatRate: variants.parley?.atThatRate ?? null,
    variants,
    cpuRatioParleyToAnchor: cpuRatios(variants.parley, variants.anchor),
    cpuRatioParleyToAnchorWithHog: cpuRatios(variants.parleyHog, variants.anchorHog),
  };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results', o.resultFile), JSON.stringify(result, null, 2) + '\n');
  for (const [key, v] of results) {
    console.log(`${key}: highest clean rate ${v.highestCleanRate} calls/s${v.atThatRate ? `, ${v.atThatRate.cpuMsPerCall} ms CPU per call there` : ''}; stopped: ${v.stoppedBecause}`);
  }
  for (const r of result.cpuRatioParleyToAnchor) console.log(`CPU per call at ${r.rate} calls/s: Parley ${r.a} ms, anchor ${r.b} ms: ${r.ratio}×`);
  for (const r of result.cpuRatioParleyToAnchorWithHog) console.log(`with the hog, CPU per call at ${r.rate} calls/s: Parley ${r.a} ms, anchor ${r.b} ms: ${r.ratio}×`);
  console.log(`wrote bench/results/${o.resultFile}`);
  if (keep) console.log(`kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
  return result;
}

// node --import tsx bench/cpuprofile-summary.ts FILE.cpuprofile [--top 40] [--calls N] [--from S] [--to S] [--module PATTERN]
// Where a V8 CPU profile's time went (`node --cpu-prof`, e.g. Parley's main thread in
// bench:calls through BENCH_PARLEY_NODE_ARGS, or a media thread's PARLEY_THREAD_CPU_PROF_DIR
// files): self time and inclusive time per function and per module (a package under
// node_modules, a file under src/, node:internal/…, or V8's own (garbage collector),
// (program), (idle)). Inclusive time counts a sample once per function or module on its
// stack, however deep the recursion. --from/--to keep the samples between those seconds
// after the profile's start (to leave out start-up and shutdown); --calls N also prints
// ms per call; --module lists the functions of the modules whose name contains PATTERN.
// Prints only.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A module's name from a script URL: the package under node_modules, the file under src/ or bench/, node's own, or V8's pseudo-frames. */
export function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(deps\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const m = /\/((?:src|bench|test)\/.*)$/.exec(url);
  return m ? m[1]! : url.replace(/^file:\/\//, '');
}

export interface Summary {
  totalMs: number;
  samples: number;
  selfByFunction: Map<string, number>;
  totalByFunction: Map<string, number>;
  selfByModule: Map<string, number>;
  totalByModule: Map<string, number>;
}

export function summarize(p: CpuProfile, fromUs = 0, toUs = Infinity): Summary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const fnName = (n: ProfileNode): string => {
    const f = n.callFrame;
    return `${f.functionName || '(anonymous)'} ${moduleOf(f.url, f.functionName)}:${f.lineNumber + 1}`;
  };
  const s: Summary = { totalMs: 0, samples: 0, selfByFunction: new Map(), totalByFunction: new Map(), selfByModule: new Map(), totalByModule: new Map() };
  const add = (m: Map<string, number>, k: string, v: number): void => {
    m.set(k, (m.get(k) ?? 0) + v);
  };
  let t = 0;
  const seenF = new Set<string>();
  const seenM = new Set<string>();
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (t < fromUs || t > toUs || ms <= 0) continue;
    const leaf = byId.get(p.samples[i]!);
    if (!leaf) continue;
    s.totalMs += ms;
    s.samples++;
    add(s.selfByFunction, fnName(leaf), ms);
    add(s.selfByModule, moduleOf(leaf.callFrame.url, leaf.callFrame.functionName), ms);
    seenF.clear();
    seenM.clear();
    for (let n: ProfileNode | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) {
      if (n.callFrame.functionName === '(root)') break;
      seenF.add(fnName(n));
      seenM.add(moduleOf(n.callFrame.url, n.callFrame.functionName));
    }
    for (const f of seenF) add(s.totalByFunction, f, ms);
    for (const m of seenM) add(s.totalByModule, m, ms);
  }
  return s;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '40' }, calls: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, module: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new Error('usage: bench/cpuprofile-summary.ts FILE.cpuprofile [--top N] [--calls N] [--from S] [--to S] [--module PATTERN]');
  const p = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as CpuProfile;
  const s = summarize(p, values.from ? Number(values.from) * 1e6 : 0, values.to ? Number(values.to) * 1e6 : Infinity);
  const top = Number(values.top);
  const calls = values.calls ? Number(values.calls) : 0;
  const busy = s.totalMs - (s.selfByFunction.get([...s.selfByFunction.keys()].find((k) => k.startsWith('(idle)')) ?? '') ?? 0);
  console.log(`${positionals[0]}: ${(s.totalMs / 1000).toFixed(1)} s sampled (${s.samples} samples), ${(busy / 1000).toFixed(1)} s not idle${calls ? `, ${(busy / calls).toFixed(2)} ms per call over ${calls} calls` : ''}`);
  const table = (title: string, m: Map<string, number>, filter?: (k: string) => boolean): void => {
    console.log(`\n${title}`);
    const rows = [...m].filter(([k]) => !k.startsWith('(idle)') && (!filter || filter(k))).sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [k, ms] of rows) console.log(`${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)} %${calls ? ` ${(ms / calls).toFixed(3).padStart(7)} ms/call` : ''}  ${k}`);
  };
  table('self time by module', s.selfByModule);
  table('inclusive time by module', s.totalByModule);
  table('self time by function', s.selfByFunction);
  table('inclusive time by function', s.totalByFunction);
  if (values.module) {
    const pat = values.module;
    table(`self time by function in modules matching ${pat}`, s.selfByFunction, (k) => k.includes(pat));
    table(`inclusive time by function in modules matching ${pat}`, s.totalByFunction, (k) => k.includes(pat));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();

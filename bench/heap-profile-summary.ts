// node --import tsx bench/heap-profile-summary.ts FILE.heapprofile [--top 40] [--calls N] [--module PATTERN]
// Where a sampling heap profile's bytes were allocated (bench/heap-sample.mjs, or any
// HeapProfiler.stopSampling result): self bytes per function and per module, and
// inclusive bytes per function (a function counted once per sample however deep the
// recursion). --calls N also prints bytes per call; --module lists the functions of the
// modules whose name contains PATTERN. Prints only.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { moduleOf } from './cpuprofile-summary.ts';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  id: number;
  children: HeapNode[];
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '40' }, calls: { type: 'string' }, module: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new Error('usage: bench/heap-profile-summary.ts FILE.heapprofile [--top N] [--calls N] [--module PATTERN]');
  const p = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as { head: HeapNode };
  const selfF = new Map<string, number>();
  const totalF = new Map<string, number>();
  const selfM = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number): void => {
    m.set(k, (m.get(k) ?? 0) + v);
  };
  let total = 0;
  const walk = (n: HeapNode, stack: string[]): void => {
    const f = n.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${moduleOf(f.url, f.functionName)}:${f.lineNumber + 1}`;
    const here = name.startsWith('(root)') ? stack : [...stack, name];
    if (n.selfSize > 0) {
      total += n.selfSize;
      add(selfF, name, n.selfSize);
      add(selfM, moduleOf(f.url, f.functionName), n.selfSize);
      for (const s of new Set(here)) add(totalF, s, n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(p.head, []);
  const calls = values.calls ? Number(values.calls) : 0;
  const top = Number(values.top);
  console.log(`${positionals[0]}: ${(total / 1e6).toFixed(1)} MB allocated${calls ? `, ${(total / calls / 1024).toFixed(1)} KB per call over ${calls} calls` : ''}`);
  const table = (title: string, m: Map<string, number>, filter?: (k: string) => boolean): void => {
    console.log(`\n${title}`);
    const rows = [...m].filter(([k]) => !filter || filter(k)).sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [k, b] of rows) console.log(`${(b / 1e6).toFixed(2).padStart(8)} MB ${((100 * b) / total).toFixed(1).padStart(5)} %${calls ? ` ${(b / calls / 1024).toFixed(1).padStart(7)} KB/call` : ''}  ${k}`);
  };
  table('self bytes by module', selfM);
  table('self bytes by function', selfF);
  table('inclusive bytes by function', totalF);
  if (values.module) {
    const pat = values.module;
    table(`self bytes by function in modules matching ${pat}`, selfF, (k) => k.includes(pat));
    table(`inclusive bytes by function in modules matching ${pat}`, totalF, (k) => k.includes(pat));
  }
}

main();

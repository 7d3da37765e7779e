// CPU time of a process and of its children from /proc (Linux), for benchmarks that
// measure a server running as its own process tree (Parley's Node process and the
// mediasoup workers it spawns).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User + system CPU milliseconds the process has used (0 once it is gone). */
export function processCpuMs(pid: number): number {
  const f = statFields(pid);
  // After the name: state(0) ppid(1) ... utime(11) stime(12), in clock ticks.
  if (!f) return 0;
  return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks();
}

/** The pids whose parent is `pid`. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f && Number(f[1]) === pid) out.push(Number(name));
  }
  return out;
}

export interface TreeCpu {
  /** The process itself. */
  mainMs: number;
  /** Its children (summed), by pid so that a snapshot can be subtracted from a later one. */
  children: Map<number, number>;
}

export function treeCpu(pid: number): TreeCpu {
  return { mainMs: processCpuMs(pid), children: new Map(childPids(pid).map((c) => [c, processCpuMs(c)])) };
}

/** CPU used between two snapshots: the main process and its children (a child born in between counts from 0). */
export function cpuBetween(a: TreeCpu, b: TreeCpu): { mainMs: number; childrenMs: number } {
  let childrenMs = 0;
  for (const [pid, ms] of b.children) childrenMs += ms - (a.children.get(pid) ?? 0);
  return { mainMs: b.mainMs - a.mainMs, childrenMs };
}

// CPU time of processes (all their threads) and of process trees, from
// /proc/<pid>/stat (Linux), for benchmarks that measure servers running as
// their own processes (Parley's Node process and its mediasoup workers, Janus,
// SIPp, the drachtio-srf app).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** Fields of /proc/<pid>/stat (or another stat file) after the command name (which may hold spaces); null once the process is gone. */
function statFields(pid: number, path = `/proc/${pid}/stat`): string[] | null {
  try {
    const s = readFileSync(path, 'latin1');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User + system CPU ms the process has used; null once it is gone. */
export function processCpuMs(pid: number): number | null {
  const f = statFields(pid);
  // After the name: state(0) ppid(1) ... utime(11) stime(12), in clock ticks.
  return f ? ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks() : null;
}

/** The same, 0 for a process that is gone. */
export function procCpuMs(pid: number): number {
  return processCpuMs(pid) ?? 0;
}

/** Total CPU ms of several processes. */
export function totalCpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + procCpuMs(pid), 0);
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
  /** Its children, by pid, so that a snapshot can be subtracted from a later one. */
  children: Map<number, number>;
}

export function treeCpu(pid: number): TreeCpu {
  return { mainMs: procCpuMs(pid), children: new Map(childPids(pid).map((c) => [c, procCpuMs(c)])) };
}

/** CPU used between two snapshots: the main process and its children (a child born in between counts from 0). */
export function cpuBetween(a: TreeCpu, b: TreeCpu): { mainMs: number; childrenMs: number } {
  let childrenMs = 0;
  for (const [pid, ms] of b.children) childrenMs += ms - (a.children.get(pid) ?? 0);
  return { mainMs: b.mainMs - a.mainMs, childrenMs };
}

/** Percentile p (0–100) of an ascending array; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

/** User + system CPU ms of each thread of this process, by thread id (Linux /proc/self/task). */
export function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const f = statFields(Number(tid), `/proc/self/task/${tid}/stat`);
    if (f) out.set(Number(tid), ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks());
  }
  return out;
}

/**
 * A process's own CPU (all threads, not its children) split by thread: `main` (the
 * thread whose id is the pid), and the threads whose name (/proc/<pid>/task/<tid>/comm)
 * starts with a prefix of `groups`, summed by that prefix; `other` is the rest of the
 * process's total (V8's and libuv's helpers, and threads that ended meanwhile).
 */
export function threadGroupsCpuMs(pid: number, groups: string[]): Record<string, number> {
  const out: Record<string, number> = { main: 0 };
  for (const g of groups) out[g] = 0;
  const total = processCpuMs(pid) ?? 0;
  let named = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { ...out, other: total };
  }
  for (const tid of tids) {
    const path = `/proc/${pid}/task/${tid}/stat`;
    let comm: string;
    try {
      const s = readFileSync(path, 'latin1');
      comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
    } catch {
      continue;
    }
    const f = statFields(pid, path);
    if (!f) continue;
    const ms = ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks();
    const key = Number(tid) === pid ? 'main' : groups.find((g) => comm.startsWith(g));
    if (!key) continue;
    out[key] += ms;
    named += ms;
  }
  out.other = total - named;
  return out;
}

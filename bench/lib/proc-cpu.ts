// CPU time of whole processes (all their threads), from /proc/<pid>/stat.
import { readFileSync } from 'node:fs';

/** utime + stime of a process in ms (clock ticks at Linux's USER_HZ of 100). */
export function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces: fields are counted after its ')'.
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(parts[11]) + Number(parts[12])) * 1000) / 100;
}

/** Total CPU ms of several processes. */
export function totalCpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + procCpuMs(pid), 0);
}

/** Percentile p (0–100) of an ascending array; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

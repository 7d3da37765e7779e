// A media thread's entry point. Node 20 does not apply the parent's `--import tsx`
// hooks to a worker's entry module, so this plain module registers tsx in the
// worker first, then loads the TypeScript entry (media-thread.ts).
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { threadId } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

// The OS thread's name (Linux), so that top -H, perf and /proc/<pid>/task tell the
// media threads from the main thread and V8's helpers (all "node" otherwise).
try {
  writeFileSync('/proc/thread-self/comm', `parley-media-${threadId}`);
} catch {
  // not Linux, or /proc is not mounted: the name is only a help
}

register();
// PARLEY_THREAD_CPU_PROF_DIR (profiling aid, benches only): `--cpu-prof` does not reach
// media threads (they start with an empty execArgv and end by terminate()), so the
// thread profiles itself through the inspector and writes a .cpuprofile every 5 s.
if (process.env.PARLEY_THREAD_CPU_PROF_DIR) {
  const { startThreadProfiler } = await import('./thread-profiler.mjs');
  await startThreadProfiler(process.env.PARLEY_THREAD_CPU_PROF_DIR);
}
await import('./media-thread.ts');

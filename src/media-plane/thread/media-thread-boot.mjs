// A media thread's entry point. Node 20 does not apply the parent's `--import tsx`
// hooks to a worker's entry module, so this plain module loads the thread's code
// itself: the bundle scripts/build-media-thread.mjs made at setup when the pool found
// it current at start (`workerData.bundle`, thread-bundle.mjs), else tsx, registered in
// this worker, and the TypeScript entry (media-thread.ts).
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { threadId, workerData } from 'node:worker_threads';

// The OS thread's name (Linux), so that top -H, perf and /proc/<pid>/task tell the
// media threads from the main thread and V8's helpers (all "node" otherwise).
try {
  writeFileSync('/proc/thread-self/comm', `parley-media-${threadId}`);
} catch {
  // not Linux, or /proc is not mounted: the name is only a help
}

const bundle = workerData.bundle ?? null;
// What media-thread.ts reports in its ready message (the pool logs it).
globalThis.parleyMediaThreadEntry = bundle ? 'bundle' : 'source';
if (!bundle) {
  const { register } = await import('tsx/esm/api');
  register();
} else {
  // Stack traces name the TypeScript lines, as under tsx (the bundle's linked source map).
  process.setSourceMapsEnabled(true);
}
// PARLEY_THREAD_CPU_PROF_DIR (profiling aid, benches only): `--cpu-prof` does not reach
// media threads (they start with an empty execArgv and end by terminate()), so the
// thread profiles itself through the inspector and writes a .cpuprofile every 5 s.
if (process.env.PARLEY_THREAD_CPU_PROF_DIR) {
  const { startThreadProfiler } = await import('./thread-profiler.mjs');
  await startThreadProfiler(process.env.PARLEY_THREAD_CPU_PROF_DIR);
}
// PARLEY_THREAD_HEAP_SAMPLE_DIR (the same, for bytes allocated): a .heapprofile every 5 s.
if (process.env.PARLEY_THREAD_HEAP_SAMPLE_DIR) {
  const { startThreadHeapSampler } = await import('./thread-profiler.mjs');
  await startThreadHeapSampler(process.env.PARLEY_THREAD_HEAP_SAMPLE_DIR);
}
await import(bundle ?? './media-thread.ts');

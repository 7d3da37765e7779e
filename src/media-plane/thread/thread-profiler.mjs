// Profiling aid for media threads (see media-thread-boot.mjs): profiles the thread
// through the inspector and writes one .cpuprofile per 5 s slice into `dir`.
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { setInterval } from 'node:timers';
import { threadId } from 'node:worker_threads';

export async function startThreadProfiler(dir) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  let seq = 0;
  const timer = setInterval(() => {
    void (async () => {
      const { profile } = await session.post('Profiler.stop');
      await session.post('Profiler.start');
      await writeFile(join(dir, `thread-${process.pid}-${threadId}-${String(seq++).padStart(3, '0')}.cpuprofile`), JSON.stringify(profile));
    })().catch(() => undefined);
  }, 5000);
  timer.unref();
}

// PARLEY_THREAD_HEAP_SAMPLE_DIR: the bytes the thread allocates (a sampling heap profile,
// objects already collected included: what was allocated, not what survived), one
// .heapprofile per 5 s slice into `dir`, as bench/heap-sample.mjs does for the main thread;
// bench/heap-profile-summary.ts sums a slice (or several: --calls over their calls).
export async function startThreadHeapSampler(dir) {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  const options = { samplingInterval: Number(process.env.HEAP_SAMPLE_INTERVAL ?? 8192), includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
  await session.post('HeapProfiler.startSampling', options);
  let seq = 0;
  const timer = setInterval(() => {
    void (async () => {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      await session.post('HeapProfiler.startSampling', options);
      await writeFile(join(dir, `thread-${process.pid}-${threadId}-${String(seq++).padStart(3, '0')}.heapprofile`), JSON.stringify(profile));
    })().catch(() => undefined);
  }, 5000);
  timer.unref();
}

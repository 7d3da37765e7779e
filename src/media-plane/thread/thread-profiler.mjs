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

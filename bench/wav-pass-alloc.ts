// node --import tsx bench/wav-pass-alloc.ts [ROOT]: bytes the main thread allocates per WAV flush
// pass (WavFileWriter: 12 frames appended, flush, the pass's writes through the recording I/O
// thread), 200 files (every fourth stereo, as bench:bridge's mix, stereo and two stems), header
// every second pass (the Recorder's at 250 ms). Sampled with the inspector's heap profiler,
// collected objects included, after 10 passes of warm-up: a figure that does not move with the
// machine's load. ROOT: another checkout to measure (default this one), for before/after.
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

interface HeapNode {
  selfSize: number;
  children: HeapNode[];
}

const FILES = 200;
const PASSES = 40;
const FRAMES_PER_PASS = 12;

async function main(): Promise<void> {
  const root = resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname);
  const { WavFileWriter } = (await import(join(root, 'src/recording/wav-file-writer.ts'))) as typeof import('../src/recording/wav-file-writer.ts');
  const dir = mkdtempSync(join(tmpdir(), 'parley-wav-pass-alloc-'));
  const stereo = (i: number): boolean => i % 4 === 1;
  const ws = Array.from({ length: FILES }, (_, i) => new WavFileWriter(join(dir, `f${i}.wav`), 8000, stereo(i) ? 2 : 1, {}, null, 2));
  await Promise.all(ws.map((w) => w.whenIdle()));
  const mono = new Int16Array(160).fill(1000);
  const two = new Int16Array(320).fill(1000);
  const pass = async (): Promise<void> => {
    for (let t = 0; t < FRAMES_PER_PASS; t++) for (let i = 0; i < FILES; i++) ws[i]!.append(stereo(i) ? two : mono);
    for (const w of ws) w.flush();
    // Polled on a timer (whenIdle() polls with setImmediate: its own garbage would be counted).
    while (ws.some((w) => (w as unknown as { inFlight: boolean }).inFlight)) await new Promise((r) => setTimeout(r, 5));
  };
  for (let k = 0; k < 10; k++) await pass();
  const s = new Session();
  s.connect();
  await s.post('HeapProfiler.enable');
  await s.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let k = 0; k < PASSES; k++) await pass();
  const { profile } = (await s.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: HeapNode } };
  let total = 0;
  const walk = (n: HeapNode): void => {
    total += n.selfSize;
    n.children.forEach(walk);
  };
  walk(profile.head);
  console.log(`${root}: ${(total / FILES / PASSES).toFixed(0)} bytes per file per pass (${FRAMES_PER_PASS} appends, the flush and its writes)`);
  for (const w of ws) w.close();
  await Promise.all(ws.map((w) => w.closed));
  rmSync(dir, { recursive: true, force: true });
}

await main();
process.exit(0);

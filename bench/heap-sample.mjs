// node --import ./bench/heap-sample.mjs … : a sampling heap profile of this process's main
// thread over a window the caller chooses, for measuring bytes allocated per call (e.g.
// Parley in bench:bridge through BENCH_PARLEY_NODE_ARGS="--import ./bench/heap-sample.mjs").
// The first SIGUSR2 starts sampling (so that start-up, tsx's compiling included, stays out),
// the second stops it and writes HEAP_SAMPLE_FILE (default heap-<pid>.heapprofile); at exit
// a running window is written too. Objects already collected are kept in the profile
// (includeObjectsCollectedByMajorGC/MinorGC): the figure is what was allocated, not what
// survived. HEAP_SAMPLE_INTERVAL: mean bytes between samples (default 8192).
// Summarize with bench/heap-profile-summary.ts.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import process from 'node:process';

const file = process.env.HEAP_SAMPLE_FILE ?? `heap-${process.pid}.heapprofile`;
const interval = Number(process.env.HEAP_SAMPLE_INTERVAL ?? 8192);
const session = new Session();
session.connect();
let sampling = false;

function stop() {
  if (!sampling) return;
  sampling = false;
  // An in-thread session answers synchronously: this works inside 'exit' too.
  session.post('HeapProfiler.stopSampling', (err, res) => {
    if (err) process.stderr.write(`heap-sample: ${err.message}\n`);
    else writeFileSync(file, JSON.stringify(res.profile));
  });
}

process.on('SIGUSR2', () => {
  if (sampling) return stop();
  sampling = true;
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }, (err) => {
    if (err) process.stderr.write(`heap-sample: ${err.message}\n`);
  });
});
process.on('exit', stop);

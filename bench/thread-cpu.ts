// node --import tsx bench/thread-cpu.ts [--threads N|auto] [--legs 180] [--k 5] [--seconds 8]
// Where Parley's mixing CPU goes, per OS thread of this process (main thread,
// media threads, libuv/V8 helpers): MediaEngine in-process, rooms of k legs fed
// by the load generator (a separate process, not counted), CPU from
// /proc/self/task/*/stat over the window, in µs per leg per 20 ms frame.
// Prints only; for the comparison with Janus use bench:mixing.
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/config/schema.ts';
import { MediaEngine } from '../src/media-plane/media-engine.ts';
import { createLogger } from '../src/util/logger.ts';
import { LoadGenerator } from './lib/load-generator.ts';
import { openParleyRooms } from './lib/parley-rooms.ts';
const { values } = parseArgs({ options: { threads: { type: 'string', default: '2' }, legs: { type: 'string', default: '180' }, k: { type: 'string', default: '5' }, seconds: { type: 'string', default: '8' } } });
const N = Number(values.legs), K = Number(values.k), S = Number(values.seconds);
function tasks(): Map<string, { name: string; t: number }> {
  const m = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      m.set(tid, { name, t: Number(f[11]) + Number(f[12]) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return m;
}
const log = createLogger({ level: 'error', pretty: false });
const engine = await MediaEngine.create({ ...defaultConfig.media, workers: 2, threads: values.threads === 'auto' ? 'auto' : Number(values.threads), rtpPortRange: { min: 40000, max: 49999 } }, log);
const gen = await LoadGenerator.start(N, K, S + 3);
const opened = await openParleyRooms(engine, gen.ports, K, 'p');
await gen.connect(opened.targets);
const run = gen.run(S + 2);
await new Promise((r) => setTimeout(r, 2000));
const a = tasks();
const t0 = process.cpuUsage();
const w0 = performance.now();
await new Promise((r) => setTimeout(r, S * 1000));
const b = tasks();
const cu = process.cpuUsage(t0);
const wall = performance.now() - w0;
await run;
const frames = N * (wall / 20);
console.log(`threads=${values.threads} legs=${N} k=${K}: process ${((cu.user + cu.system) / frames).toFixed(2)} µs/leg/frame (user ${(cu.user / frames).toFixed(2)} sys ${(cu.system / frames).toFixed(2)})`);
for (const [tid, v] of b) {
  const d = (v.t - (a.get(tid)?.t ?? 0)) * 10000; // ticks → µs
  if (d > 0) console.log(`  ${tid} ${v.name.padEnd(16)} ${(d / frames).toFixed(2)} µs/leg/frame`);
}
opened.close();
gen.close();
engine.close();
process.exit(0);

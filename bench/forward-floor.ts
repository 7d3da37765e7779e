// npm run bench:floor [-- --calls 200 --seconds 10 --runs 3 --relays rtpengine,rtpengine-pcap,node,parley,parley-dgram]
//
// What a two-party relay costs per packet, with nothing but media: the same synthetic
// calls (a caller streams 20 ms PCMU packets, a callee echoes them, as bench:bridge's
// SIPp peers do; `--calls` at once, 50 packets/s each way) through, in turn, in the same run:
// - rtpengine (Debian's rtpengine-daemon in userspace, `table = -1`), driven over its ng
//   protocol (offer, answer, delete), without recording and with pcap recording
//   (`record call`), as bench:bridge's anchor records;
// - the least a Node relay can do with node:dgram (bench/lib/floor-bare-relay.ts): two
//   sockets a call, each packet received and sent once, nothing else;
// - Parley's media plane alone (bench/lib/floor-parley-relay.ts): a MediaEngine with the
//   default settings, a room a call forwarding leg to leg; no SIP, no recording.
// Each relay is its own process (rtpengine's threads; Node's threads and children); its
// CPU (utime + stime from /proc) over a window after a warm-up is divided by the packets
// the peers got back in that window (each one received and sent once by the relay). The
// peers run in this process and are not counted. Prints and writes
// bench/results/forward-floor.json.
// FLOOR_NODE_ARGS: node flags for the Node relays (e.g. --perf-basic-prof, for `perf record -p`);
// FLOOR_THREADS: Parley's media.threads (default: one per core).
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ulawEncode } from '../src/mixer/codecs/g711.ts';
import { anchorVersion, startRtpengine, type Rtpengine } from './lib/kamailio-rtpengine.ts';
import { childPids, procCpuMs, threadGroupsCpuMs, totalCpuMs } from './lib/proc-cpu.ts';
import { RtpengineNg } from './lib/rtpengine-ng.ts';
import { pcmuSdp as sdp } from './lib/pcmu-sdp.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    relays: { type: 'string', default: 'rtpengine,rtpengine-pcap,node,parley,parley-dgram' },
    out: { type: 'string', default: join(here, 'results', 'forward-floor.json') },
  },
});
const CALLS = Number(values.calls);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const RUNS = Number(values.runs);
const RELAYS = values.relays.split(',').filter(Boolean);
for (const r of RELAYS) if (!['rtpengine', 'rtpengine-pcap', 'node', 'parley', 'parley-dgram'].includes(r)) throw new Error(`--relays: unknown relay ${r}`);

interface RunningRelay {
  /** Where each call's caller sends. */
  ports: number[];
  /** The processes whose CPU counts (read again at each snapshot: children may come). */
  pids(): number[];
  stop(): Promise<void>;
  /** CPU ms by thread group (Node relays: main, media threads, V8's and libuv's helpers, child processes). */
  threads?(): Record<string, number>;
  detail?: Record<string, unknown>;
}

const portOf = (s: unknown): number => {
  const p = Number(/^m=audio (\d+)/m.exec(String(s))?.[1]);
  if (!Number.isInteger(p) || p <= 0) throw new Error(`no audio port in ${String(s).slice(0, 200)}`);
  return p;
};

async function bindPeer(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 4 << 20 });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return s;
}

function forkRelay(file: string, setup: Record<string, number>): Promise<{ child: ChildProcess; reply: { ports: number[]; threads?: number } }> {
  const child = fork(join(here, 'lib', file), [], { execArgv: ['--import', 'tsx', ...(process.env.FLOOR_NODE_ARGS ?? '').split(' ').filter(Boolean)], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
    child.once('message', (reply: { ports: number[]; threads?: number }) => resolve({ child, reply }));
    child.send(setup);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.send('stop');
  });
}

async function startNodeRelay(calleePort: number): Promise<RunningRelay> {
  const { child, reply } = await forkRelay('floor-bare-relay.ts', { calls: CALLS, calleePort });
  return { ports: reply.ports, pids: () => [child.pid!], stop: () => stopChild(child), threads: () => threadGroupsCpuMs(child.pid!, []) };
}

async function startParleyRelay(callerPort: number, calleePort: number, nativeIo: boolean): Promise<RunningRelay> {
  const { child, reply } = await forkRelay('floor-parley-relay.ts', { calls: CALLS, callerPort, calleePort, portMin: 41000, nativeIo: nativeIo ? 1 : 0 });
  // Its mediasoup workers are its children (idle: no browser, no pipe); they count as Parley.
  return { ports: reply.ports, pids: () => [child.pid!, ...childPids(child.pid!)], stop: () => stopChild(child),
    threads: () => ({ ...threadGroupsCpuMs(child.pid!, ['parley-media']), children: totalCpuMs(childPids(child.pid!)) }),
    detail: { mediaThreads: reply.threads } };
}

async function startRtpengineRelay(dir: string, record: boolean, callerPort: number, calleePort: number): Promise<RunningRelay> {
  const rtp: Rtpengine = await startRtpengine(dir, { min: 30000, max: 39999 });
  const ng = await RtpengineNg.open(rtp.ngPort);
  const ports: number[] = [];
  const rec: Record<string, string> = record ? { 'record call': 'yes' } : {};
  try {
    for (let i = 0; i < CALLS; i++) {
      const callId = `floor-${i}`;
      await ng.command({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sdp(callerPort, i), ...rec });
      const a = await ng.command({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdp(calleePort, 1000 + i), ...rec });
      ports.push(portOf(a.sdp));
    }
  } catch (err) {
    ng.close();
    await rtp.stop();
    throw err;
  }
  return {
    ports,
    pids: () => [rtp.pid],
    stop: async () => {
      for (let i = 0; i < CALLS; i++) await ng.command({ command: 'delete', 'call-id': `floor-${i}`, 'from-tag': 'caller' }).catch(() => undefined);
      const pcaps = rtp.pcaps();
      ng.close();
      await rtp.stop();
      if (record && pcaps.size !== CALLS) throw new Error(`rtpengine wrote ${pcaps.size} pcaps for ${CALLS} calls`);
    },
    detail: record ? { recording: 'pcap' } : { recording: 'none' },
  };
}

/** 160 bytes of a 440 Hz tone in u-law, the payload every caller streams. */
const tone = Buffer.alloc(160);
for (let i = 0; i < 160; i++) tone[i] = ulawEncode(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));

interface Window {
  cpuMs: number;
  /** The window's CPU by thread group (Node relays). */
  threadsMs?: Record<string, number>;
  forwarded: number;
  sent: number;
  seconds: number;
  /** How late the peers' frames left (their timer's lag): the relays' input timing. */
  sendLateMs: { p99: number; max: number };
  /** Calls whose relay ports both peers heard from in the window (all of them, or the relay dropped calls). */
  callsHeard: number;
}

async function measure(name: string, dir: string, run: number): Promise<Window & { detail?: Record<string, unknown> }> {
  const caller = await bindPeer();
  const callee = await bindPeer();
  let back = 0;
  let through = 0;
  caller.on('message', () => back++);
  // The callee echoes what it gets to where it came from (the relay's callee-side port), as SIPp's -rtp_echo.
  callee.on('message', (msg, rinfo) => {
    through++;
    callee.send(msg, rinfo.port, rinfo.address);
  });
  const callerPort = caller.address().port;
  const calleePort = callee.address().port;
  const relay =
    name === 'node' ? await startNodeRelay(calleePort)
      : name === 'parley' || name === 'parley-dgram' ? await startParleyRelay(callerPort, calleePort, name === 'parley')
        : await startRtpengineRelay(join(dir, `${name}-${run}`), name === 'rtpengine-pcap', callerPort, calleePort);
  const packets = relay.ports.map((_, i) => {
    const p = Buffer.alloc(172);
    p[0] = 0x80;
    p.writeUInt32BE((0x5000_0000 + i) >>> 0, 8);
    tone.copy(p, 12);
    return p;
  });
  // Frames go out on a 20 ms grid from the start: a late timer sends the frames it missed at
  // once, each with its own sequence number and timestamp; how late each frame left is kept.
  let frame = 0;
  let sent = 0;
  const lateMs: number[] = [];
  const t0 = performance.now();
  let timer: NodeJS.Timeout | null = null;
  const sendDue = (): void => {
    const now = performance.now();
    for (; t0 + frame * 20 <= now; frame++) {
      lateMs.push(now - (t0 + frame * 20));
      for (let i = 0; i < packets.length; i++) {
        const p = packets[i]!;
        p.writeUInt16BE((frame + 1) & 0xffff, 2);
        p.writeUInt32BE((frame * 160) >>> 0, 4);
        caller.send(p, relay.ports[i]!, '127.0.0.1');
      }
      sent += packets.length;
    }
    timer = setTimeout(sendDue, Math.max(0, t0 + frame * 20 - performance.now()));
  };
  sendDue();
  // The relay's ports each side heard from in the window: every call should show on both.
  const heardCaller = new Set<number>();
  const heardCallee = new Set<number>();
  let counting = false;
  caller.on('message', (_m, rinfo) => {
    if (counting) heardCaller.add(rinfo.port);
  });
  callee.on('message', (_m, rinfo) => {
    if (counting) heardCallee.add(rinfo.port);
  });
  const cpu = (): number => relay.pids().reduce((s, pid) => s + procCpuMs(pid), 0);
  try {
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const c0 = cpu();
    const g0 = relay.threads?.();
    const f0 = back + through;
    const s0 = sent;
    const l0 = lateMs.length;
    const w0 = performance.now();
    counting = true;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const c1 = cpu();
    const g1 = relay.threads?.();
    const f1 = back + through;
    const s1 = sent;
    const w1 = performance.now();
    counting = false;
    if (timer) clearTimeout(timer);
    timer = null;
    const late = lateMs.slice(l0).sort((a, b) => a - b);
    const threadsMs = g0 && g1 ? Object.fromEntries(Object.keys(g1).map((k) => [k, Math.round(g1[k]! - (g0[k] ?? 0))])) : undefined;
    return { cpuMs: c1 - c0, threadsMs, forwarded: f1 - f0, sent: s1 - s0, seconds: (w1 - w0) / 1000, sendLateMs: { p99: Math.round(late[Math.floor(0.99 * (late.length - 1))]! * 10) / 10, max: Math.round(late[late.length - 1]! * 10) / 10 }, callsHeard: Math.min(heardCaller.size, heardCallee.size), detail: relay.detail };
  } finally {
    if (timer) clearTimeout(timer);
    timer = null;
    await new Promise((r) => setTimeout(r, 300));
    caller.close();
    callee.close();
    await relay.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'parley-floor-'));
const results: Record<string, { runs: Array<Window & { usPerPacket: number; lossPercent: number }>; usPerPacket: number; msPerFiveSecondCall: number; detail?: Record<string, unknown> }> = {};
try {
  for (let run = 0; run < RUNS; run++) {
    for (const name of RELAYS) {
      const w = await measure(name, dir, run);
      // Each caller packet comes back forwarded twice (to the callee, and its echo to the caller).
      const usPerPacket = (w.cpuMs * 1000) / Math.max(1, w.forwarded);
      const lossPercent = Math.max(0, (100 * (2 * w.sent - w.forwarded)) / Math.max(1, 2 * w.sent));
      const r = (results[name] ??= { runs: [], usPerPacket: 0, msPerFiveSecondCall: 0, detail: w.detail });
      r.runs.push({ ...w, usPerPacket: Math.round(usPerPacket * 100) / 100, lossPercent: Math.round(lossPercent * 100) / 100 });
      console.log(`${name.padEnd(15)} run ${run + 1}: ${w.forwarded} packets forwarded in ${w.seconds.toFixed(1)} s (${lossPercent.toFixed(2)} % short, ${w.callsHeard}/${CALLS} calls heard both ways, peers' send lag p99 ${w.sendLateMs.p99} ms), CPU ${Math.round(w.cpuMs)} ms: ${usPerPacket.toFixed(2)} µs per packet${w.threadsMs ? ` (${Object.entries(w.threadsMs).map(([k, v]) => `${k} ${v}`).join(', ')} ms)` : ''}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

for (const r of Object.values(results)) {
  const sorted = r.runs.map((x) => x.usPerPacket).sort((a, b) => a - b);
  r.usPerPacket = sorted[Math.floor((sorted.length - 1) / 2)]!;
  // A 5 s call of bench:bridge: 250 packets each way, each received and sent once.
  r.msPerFiveSecondCall = Math.round(r.usPerPacket * 500) / 1000;
}
const base = results.rtpengine?.usPerPacket;
const ratios = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, base ? Math.round((100 * v.usPerPacket) / base) / 100 : null]));
console.log('\nµs per packet forwarded (median of runs), ms per 5 s call (500 packets), × rtpengine without recording:');
for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(15)} ${v.usPerPacket.toFixed(2).padStart(6)} µs  ${v.msPerFiveSecondCall.toFixed(2).padStart(5)} ms  ${ratios[k] ?? '-'}×`);

const out = {
  date: new Date().toISOString(),
  command: 'npm run bench:floor',
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
  method: {
    load: `${CALLS} two-party calls at once; each caller sends a 172-byte PCMU packet every 20 ms to the relay, each callee echoes what it gets; ${WARMUP} s warm-up, then a ${SECONDS} s window`,
    cpu: 'utime + stime from /proc of the relay\'s processes (all threads; Parley: its mediasoup workers too) over the window, divided by the packets the peers got in it (each received and sent once by the relay)',
    relays: {
      rtpengine: `${anchorVersion()}: rtpengine in userspace (table = -1), ng offer/answer per call, no recording`,
      'rtpengine-pcap': 'the same with `record call` (recording-method = pcap), as bench:bridge\'s anchor',
      node: 'bench/lib/floor-bare-relay.ts: node:dgram, two sockets a call, each packet received and sent once, nothing else',
      parley: 'bench/lib/floor-parley-relay.ts: Parley\'s MediaEngine (default media settings: RTP read and sent in batches through the parley-udp addon), a room a call forwarding leg to leg; no SIP, no recording',
      'parley-dgram': 'the same with media.nativeIo off: every RTP packet read and sent through node:dgram',
    },
  },
  calls: CALLS,
  results,
  ratioToRtpengine: ratios,
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify(out, null, 1) + '\n');
console.log(`\nwritten: ${values.out}`);

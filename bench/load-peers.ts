// The benches' load generator, run as a child process so that its CPU is not
// counted as the server's: N RTP endpoints on loopback sending PCMU every 20 ms
// (a quiet tone, and now and then a one-frame click from one leg per room) to
// whatever RTP target each leg is given (a Parley leg, a Janus participant),
// receiving their mixes, and timing click → first loud mixed packet. Every
// received packet also goes through the leg's ArrivalGrid (late and missing
// frames, measured the same way whatever the server is). Driven over IPC by
// bench/lib/load-generator.ts.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { ULAW_DECODE, ulawEncode } from '../src/mixer/codecs/g711.ts';
import { ArrivalGrid, type GridSummary } from './lib/arrival-grid.ts';
import type { GeneratorReply, GeneratorRequest, RtpTarget } from './lib/load-generator.ts';

interface Leg {
  socket: dgram.Socket;
  room: number;
  target: RtpTarget | null;
  seq: number;
  ts: number;
  ssrc: number;
  received: number;
  grid: ArrivalGrid;
}

/** A click not heard by anyone in the room within this time counts as lost. */
const CLICK_TIMEOUT_MS = 1000;

const legs: Leg[] = [];
let roomSize = 1;
let recording = false;
const clickAt = new Map<number, number>(); // room → send time of its pending click
const latencies: number[] = [];
let clicksLost = 0;
/** How late each tick of the send timer fired, ms (the generator's own lateness). */
const sendLags: number[] = [];
const QUIET = new Uint8Array(160);
const LOUD = new Uint8Array(160);
for (let i = 0; i < 160; i++) {
  QUIET[i] = ulawEncode(Math.round(300 * Math.sin((2 * Math.PI * 400 * i) / 8000)));
  LOUD[i] = ulawEncode(Math.round(12000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
}

// Every sample: a 1 kHz tone at 8 kHz sampled every 4th sample is all zero
// crossings, and a server that does not resample (Janus at 8 kHz) keeps the phase.
function loud(b: Buffer): boolean {
  let peak = 0;
  for (let i = 12; i < b.length; i++) {
    const v = Math.abs(ULAW_DECODE[b[i]]);
    if (v > peak) peak = v;
  }
  return peak > 5000;
}

async function bindAll(n: number, k: number, seconds: number): Promise<number[]> {
  roomSize = k;
  // Random SSRCs, as phones pick them per call: a bench that restarts its
  // generator must not replay the SSRCs of legs that just left the server.
  const ssrcBase = randomInt(1, 0x7fffffff);
  // Room for the longest run plus slack; later packets are counted, not timed.
  const capacity = Math.ceil(seconds * 50 * 1.2) + 100;
  for (let i = 0; i < n; i++) {
    const socket = dgram.createSocket('udp4');
    const leg: Leg = { socket, room: Math.floor(i / k), target: null, seq: 0, ts: 0, ssrc: (ssrcBase + i * 7919) >>> 0, received: 0, grid: new ArrivalGrid(capacity) };
    socket.on('message', (b: Buffer) => {
      // With rtcp-mux the server's RTCP (payload types 200–223, RFC 5761) shares the port.
      if (!recording || b.length < 12 || (b[1] >= 192 && b[1] <= 223)) return;
      const now = performance.now();
      leg.received++;
      leg.grid.record(now, b.readUInt32BE(4), b.readUInt32BE(8));
      const sent = clickAt.get(leg.room);
      if (sent !== undefined && loud(b)) {
        latencies.push(now - sent);
        clickAt.delete(leg.room);
      }
    });
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    legs.push(leg);
  }
  return legs.map((l) => l.socket.address().port);
}

function send(seconds: number): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    let tick = 0;
    const fire = (): void => {
      const t = tick++;
      const now = performance.now();
      sendLags.push(now - (start + t * 20));
      for (const [room, at] of clickAt) {
        if (now - at > CLICK_TIMEOUT_MS) {
          clickAt.delete(room);
          clicksLost++;
        }
      }
      // One click per room every 50 ticks (1 s), rooms staggered.
      for (let i = 0; i < legs.length; i++) {
        const l = legs[i];
        if (!l.target) continue;
        const isClicker = i % roomSize === 0 && (t + l.room) % 50 === 0 && !clickAt.has(l.room);
        const b = Buffer.allocUnsafe(172);
        b[0] = 0x80;
        b[1] = 0;
        b.writeUInt16BE(l.seq++ & 0xffff, 2);
        b.writeUInt32BE(l.ts >>> 0, 4);
        b.writeUInt32BE(l.ssrc, 8);
        b.set(isClicker ? LOUD : QUIET, 12);
        l.ts += 160;
        if (isClicker) clickAt.set(l.room, performance.now());
        l.socket.send(b, l.target.port, l.target.host);
      }
      if (performance.now() - start >= seconds * 1000) return resolve();
      const next = start + tick * 20;
      setTimeout(fire, Math.max(0, next - performance.now()));
    };
    fire();
  });
}

async function run(seconds: number): Promise<GeneratorReply> {
  for (const l of legs) {
    l.received = 0;
    l.grid.reset();
  }
  latencies.length = 0;
  clickAt.clear();
  clicksLost = 0;
  sendLags.length = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = process.cpuUsage();
  recording = true;
  await send(seconds);
  // Mixes of the last frames sent are still on their way.
  await new Promise((r) => setTimeout(r, 100));
  recording = false;
  loop.disable();
  const cpu = process.cpuUsage(t0);
  const grids: GridSummary[] = legs.map((l) => l.grid.summary());
  const lags = sendLags.slice().sort((a, b) => a - b);
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  return {
    received: legs.map((l) => l.received),
    grids,
    latencies,
    clicksLost,
    generatorCpuMs: (cpu.user + cpu.system) / 1000,
    sendLagP99Ms: Math.round(100 * (lags[Math.floor(0.99 * (lags.length - 1))] ?? 0)) / 100,
    sendLagMaxMs: Math.round(100 * (lags[lags.length - 1] ?? 0)) / 100,
    loopDelayP99Ms: ms(loop.percentile(99)),
    loopDelayMaxMs: ms(loop.max),
  };
}

process.on('message', (m: GeneratorRequest) => {
  void (async () => {
    if (m.cmd === 'bind') process.send!({ ports: await bindAll(m.n, m.k, m.maxSeconds) });
    else if (m.cmd === 'connect') {
      m.targets.forEach((t, i) => (legs[i].target = t));
      process.send!({ ok: true });
    } else if (m.cmd === 'run') {
      process.send!(await run(m.seconds));
    } else if (m.cmd === 'exit') {
      for (const l of legs) l.socket.close();
      process.exit(0);
    }
  })();
});
// Never outlive the bench that forked us (its crash, Ctrl-C).
process.on('disconnect', () => process.exit(0));

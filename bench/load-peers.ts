// The bench's load generator, run as a child process so that its CPU is not
// counted as Parley's: N RTP endpoints on loopback sending PCMU every 20 ms
// (a quiet tone, and now and then a one-frame click from one leg per room),
// receiving their mixes, and timing click → first loud mixed packet.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { ULAW_DECODE, ulawEncode } from '../src/mixer/codecs/g711.ts';

interface Leg {
  socket: dgram.Socket;
  room: number;
  remotePort: number;
  seq: number;
  ts: number;
  ssrc: number;
  received: number;
}

const legs: Leg[] = [];
let rooms = 0;
const clickAt = new Map<number, number>(); // room → send time of its pending click
const latencies: number[] = [];
const QUIET = new Uint8Array(160);
const LOUD = new Uint8Array(160);
for (let i = 0; i < 160; i++) {
  QUIET[i] = ulawEncode(Math.round(300 * Math.sin((2 * Math.PI * 400 * i) / 8000)));
  LOUD[i] = ulawEncode(Math.round(12000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
}

function loud(b: Buffer): boolean {
  let peak = 0;
  for (let i = 12; i < b.length; i += 4) {
    const v = Math.abs(ULAW_DECODE[b[i]]);
    if (v > peak) peak = v;
  }
  return peak > 5000;
}

async function bindAll(n: number, k: number): Promise<number[]> {
  rooms = Math.ceil(n / k);
  for (let i = 0; i < n; i++) {
    const socket = dgram.createSocket('udp4');
    const leg: Leg = { socket, room: Math.floor(i / k), remotePort: 0, seq: 0, ts: 0, ssrc: (i + 1) * 7919, received: 0 };
    socket.on('message', (b: Buffer) => {
      leg.received++;
      const sent = clickAt.get(leg.room);
      if (sent !== undefined && loud(b)) {
        latencies.push(performance.now() - sent);
        clickAt.delete(leg.room);
      }
    });
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    legs.push(leg);
  }
  return legs.map((l) => l.socket.address().port);
}

function run(seconds: number): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    let tick = 0;
    const packet = Buffer.alloc(172);
    const fire = (): void => {
      const t = tick++;
      // One click per room every 50 ticks (1 s), rooms staggered.
      for (let i = 0; i < legs.length; i++) {
        const l = legs[i];
        const k = legs.length / rooms;
        const isClicker = i % k === 0 && (t + l.room) % 50 === 0 && !clickAt.has(l.room);
        const b = Buffer.allocUnsafe(172);
        b[0] = 0x80;
        b[1] = 0;
        b.writeUInt16BE(l.seq++ & 0xffff, 2);
        b.writeUInt32BE(l.ts >>> 0, 4);
        b.writeUInt32BE(l.ssrc, 8);
        b.set(isClicker ? LOUD : QUIET, 12);
        l.ts += 160;
        if (isClicker) clickAt.set(l.room, performance.now());
        l.socket.send(b, l.remotePort, '127.0.0.1');
      }
      void packet;
      if (performance.now() - start >= seconds * 1000) return resolve();
      const next = start + tick * 20;
      setTimeout(fire, Math.max(0, next - performance.now()));
    };
    fire();
  });
}

process.on('message', (m: { cmd: string; n?: number; k?: number; ports?: number[]; seconds?: number }) => {
  void (async () => {
    if (m.cmd === 'bind') process.send!({ ports: await bindAll(m.n!, m.k!) });
    else if (m.cmd === 'connect') {
      m.ports!.forEach((p, i) => (legs[i].remotePort = p));
      process.send!({ ok: true });
    } else if (m.cmd === 'run') {
      for (const l of legs) l.received = 0;
      latencies.length = 0;
      const t0 = process.cpuUsage();
      await run(m.seconds!);
      const cpu = process.cpuUsage(t0);
      process.send!({ received: legs.map((l) => l.received), latencies, generatorCpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (m.cmd === 'exit') {
      for (const l of legs) l.socket.close();
      process.exit(0);
    }
  })();
});

// node --import tsx bench/packet-path-cost.ts [--calls 40] [--frames 1500] [--runs 5]
// CPU and GC cost of the per-packet path of forwarded two-party calls, with real
// sockets on loopback: for each call, two RtpEndpoints (latching, RTCP attached
// off, plain RTP: bench/srtp-cost.ts prices SRTP) feed one RoomMixer (manual clock, two-party forwarding,
// a recorder-like sink that copies the mix and both legs every tick); two peer
// sockets play the phones (one sends to every call's first leg, the other to
// every second leg) and count what comes back. Each frame: every leg gets one
// PCMU packet from its peer, the bench waits until all of them went through
// (endpoint → participant → jitter buffer → forwarder → RtpOutput → endpoint →
// socket), then runs every room's tick. The figure is this process's CPU time
// per packet forwarded (both peers' sends and receives included, a constant
// share), plus GC pauses and scavenges per 1,000 packets. Prints and writes
// bench/results/packet-path-cost.json.
import dgram from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/config/schema.ts';
import type { MixTick, TickSink } from '../src/mixer/frames.ts';
import { RoomMixer } from '../src/mixer/room-mixer.ts';
import { writeRtpHeader } from '../src/mixer/rtp.ts';
import { PortAllocator } from '../src/media-plane/port-allocator.ts';
import { RtpEndpoint } from '../src/media-plane/rtp-endpoint.ts';
import { createLogger } from '../src/util/logger.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { calls: { type: 'string', default: '40' }, frames: { type: 'string', default: '1500' }, runs: { type: 'string', default: '5' } } });
const CALLS = Number(values.calls);
const FRAMES = Number(values.frames);
const RUNS = Number(values.runs);
const log = createLogger({ level: 'error', pretty: false });

class CopyingSink implements TickSink {
  /** As a media thread's RingSink: what it keeps it copies during writeTick. */
  readonly copiesFrames = true;
  private readonly ring: Int16Array[] = [];
  private next = 0;
  readonly sampleRate = 8000;
  writeTick(tick: MixTick): void {
    this.keep(tick.mix);
    for (const f of tick.legs.values()) if (f) this.keep(f);
  }
  private keep(f: Int16Array): void {
    if (this.ring.length < 64) this.ring.push(new Int16Array(f.length));
    const slot = this.ring[this.next++ % this.ring.length];
    if (slot.length === f.length) slot.set(f);
  }
}

async function bindPeer(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

let delivered = 0;
let returned = 0;
const allocator = new PortAllocator({ min: 42000, max: 47999 }, { ip4: '127.0.0.1', ip6: null });
const peerA = await bindPeer();
const peerB = await bindPeer();
peerA.on('message', () => returned++);
peerB.on('message', () => returned++);

interface Call {
  mixer: RoomMixer;
  ep: RtpEndpoint[];
  ssrc: number[];
}
const m = defaultConfig.media.mixer;
const calls: Call[] = [];
for (let c = 0; c < CALLS; c++) {
  const mixer = new RoomMixer({ sampleRate: m.sampleRate, autoNarrowband: m.narrowband, jitterMinMs: m.jitterMinMs, jitterMaxMs: m.jitterMaxMs, forwardTwoParty: true, manualClock: true, log });
  mixer.addSink(new CopyingSink());
  const ep: RtpEndpoint[] = [];
  for (let i = 0; i < 2; i++) {
    const peer = i === 0 ? peerA : peerB;
    let part: ReturnType<RoomMixer['createParticipant']> | null = null;
    const e = await RtpEndpoint.open({
      allocator,
      family: 4,
      announcedIp: '127.0.0.1',
      latching: 'latch',
      withRtcp: false,
      log,
      onRtp: (packet, nowMs) => {
        delivered++;
        part!.pushRtp(packet, nowMs);
      },
      onSsrc: () => undefined,
    });
    e.configure({
      remote: { ip: '127.0.0.1', port: peer.address().port, rtcpPort: null, rtcpMux: true },
      payloadTypes: [0, 13, 101],
      audioPt: 0,
      srtp: null,
      sending: true,
    });
    part = mixer.createParticipant(`l${i}`, { codec: 'PCMU', audioPt: 0, dtmfPt: 101, dtmfClock: 8000, sendPt: 0, sendSsrc: 0x1000 + i }, (p) => e.send(p));
    ep.push(e);
  }
  calls.push({ mixer, ep, ssrc: [0x2000 + 2 * c, 0x2001 + 2 * c] });
}
// What each phone sends: 20 ms of a u-law tone-ish payload (content does not matter to forwarding; decode runs for the sink).
const payload = Buffer.alloc(160);
for (let i = 0; i < 160; i++) payload[i] = (0x80 + Math.round(40 * Math.sin((2 * Math.PI * i) / 18))) & 0xff;
const scratch = Buffer.alloc(172);
let frame = 0;

function sendFrame(): number {
  const f = frame++;
  let n = 0;
  for (let c = 0; c < calls.length; c++) {
    for (let i = 0; i < 2; i++) {
      writeRtpHeader(scratch, 0, f === 0, f & 0xffff, (f * 160) >>> 0, calls[c].ssrc[i]);
      payload.copy(scratch, 12);
      (i === 0 ? peerA : peerB).send(Buffer.from(scratch), calls[c].ep[i].port, '127.0.0.1');
      n++;
    }
  }
  return n;
}

async function runFrames(frames: number): Promise<void> {
  for (let k = 0; k < frames; k++) {
    const want = delivered + sendFrame();
    // Wait until every packet went through the endpoints (loopback: within a few turns).
    for (let spin = 0; delivered < want && spin < 2000; spin++) await new Promise((r) => setImmediate(r));
    for (const c of calls) c.mixer.runTick();
  }
}

let gcCount = 0;
let gcMs = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++;
    gcMs += e.duration;
  }
});
obs.observe({ entryTypes: ['gc'] });

await runFrames(300);
const perPacket: number[] = [];
const gcPer1k: number[] = [];
const gcMsPer1k: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const r0 = returned;
  const g0 = gcCount;
  const gm0 = gcMs;
  const c0 = process.cpuUsage();
  await runFrames(FRAMES);
  // Let the last frame's forwarded packets reach the peers.
  await new Promise((res) => setTimeout(res, 20));
  const used = process.cpuUsage(c0);
  const packets = returned - r0;
  perPacket.push((used.user + used.system) / packets);
  gcPer1k.push((1000 * (gcCount - g0)) / packets);
  gcMsPer1k.push((1000 * (gcMs - gm0)) / packets);
}
obs.disconnect();
const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];
const forwarded = calls.reduce((s, c) => s + c.mixer.stats.forwarded, 0);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  cores: availableParallelism(),
  loadAverage1m: loadavg()[0],
  calls: CALLS,
  framesPerRun: FRAMES,
  runs: RUNS,
  cpuUsPerPacket: { median: +med(perPacket).toFixed(2), min: +Math.min(...perPacket).toFixed(2) },
  gcPer1kPackets: +med(gcPer1k).toFixed(2),
  gcMsPer1kPackets: +med(gcMsPer1k).toFixed(3),
  forwardedTotal: forwarded,
  note: 'CPU of this process per packet forwarded leg to leg, including the peers sending and receiving it (one send and one receive each side)',
};
console.log(`packet path: ${CALLS} calls, ${RUNS}×${FRAMES} frames: CPU ${result.cpuUsPerPacket.median} µs per forwarded packet (min ${result.cpuUsPerPacket.min}), GC ${result.gcPer1kPackets} per 1k packets, ${result.gcMsPer1kPackets} ms per 1k packets (load ${loadavg()[0].toFixed(2)})`);
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'packet-path-cost.json'), JSON.stringify(result, null, 2) + '\n');
for (const c of calls) {
  c.mixer.close();
  for (const e of c.ep) e.close();
}
peerA.close();
peerB.close();

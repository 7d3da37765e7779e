// npm run bench:webrtc -- [--rooms R] [--browsers B] [--seconds S]
// What a browser participant costs Parley: R rooms, each with B browser
// stand-ins (Opus producers on PlainTransports of the room's Router, fed
// pre-encoded 20 ms frames; no DTLS/SRTP, which the mediasoup worker does for
// a real browser), each brought into the mixer (hub.consume: Opus decode) and
// given its own mix-minus (hub.produceInputMix: an Opus encode per browser per
// tick) consumed on another PlainTransport. CPU of Parley's Node process and
// its mediasoup worker over S seconds, against the same rooms with no
// browsers (one silent SIP-like producer each keeps the hub open), divided by
// the number of browsers: CPU per browser leg. The senders and receivers run in
// this process too (cheap: pre-encoded packets, no decoding), so the figure is
// an upper bound. Prints and writes bench/results/webrtc.json.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { types as ms } from 'mediasoup';
import { defaultConfig } from '../src/config/schema.ts';
import { MediaEngine } from '../src/media-plane/media-engine.ts';
import type { MediaRoom } from '../src/media-plane/media-room.ts';
import { OpusEncoder } from '../src/mixer/codecs/opus-codec.ts';
import { createLogger } from '../src/util/logger.ts';
import { processCpuMs } from './lib/proc-cpu.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { rooms: { type: 'string', default: '5' }, browsers: { type: 'string', default: '4' }, seconds: { type: 'string', default: '8' } } });
const ROOMS = Number(values.rooms);
const BROWSERS = Number(values.browsers);
const SECONDS = Number(values.seconds);

/** 50 Opus frames (1 s of a 16 kHz tone), sent in a loop. */
function opusLoop(hz: number): Buffer[] {
  const enc = new OpusEncoder(16000);
  const out = new Uint8Array(1500);
  const pcm = new Int16Array(320);
  const frames: Buffer[] = [];
  for (let f = 0; f < 50; f++) {
    for (let i = 0; i < 320; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * hz * (f * 320 + i)) / 16000));
    frames.push(Buffer.from(out.subarray(0, enc.encode(pcm, out))));
  }
  enc.close();
  return frames;
}

interface Browser {
  port: number;
  ssrc: number;
  seq: number;
  /** The room's silent member (keeps the baseline's hub and clock): sends nothing. */
  silent: boolean;
}

async function addBrowser(engine: MediaEngine, room: MediaRoom, id: string, sink: dgram.Socket, withOutput: boolean): Promise<Browser> {
  const hub = await engine.hubFor(room.id);
  const t = await hub.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
  const ssrc = 0x1000_0000 + Math.floor(Math.random() * 0x0fff_ffff);
  const producer = await t.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] } });
  await hub.consume(producer.id, id);
  if (withOutput) {
    const out: ms.Producer = await hub.produceInputMix(id);
    const rt = await hub.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
    await rt.connect({ ip: '127.0.0.1', port: sink.address().port });
    await rt.consume({ producerId: out.id, rtpCapabilities: hub.router.rtpCapabilities });
  }
  return { port: t.tuple.localPort, ssrc, seq: 0, silent: !withOutput };
}

async function measure(engine: MediaEngine, browsers: number): Promise<{ nodeMs: number; workerMs: number }> {
  const sink = dgram.createSocket('udp4');
  sink.on('message', () => undefined);
  sink.bind(0, '127.0.0.1');
  await once(sink, 'listening');
  const sender = dgram.createSocket('udp4');
  const rooms: MediaRoom[] = [];
  const all: Browser[] = [];
  for (let r = 0; r < ROOMS; r++) {
    const room = await engine.createRoom(`bench-${browsers}-${r}`);
    rooms.push(room);
    // A room with no browser still has its hub (and one silent input), so that the baseline pays the same clock and hub.
    all.push(await addBrowser(engine, room, `keep-${r}`, sink, false));
    for (let b = 0; b < browsers; b++) all.push(await addBrowser(engine, room, `web-${r}-${b}`, sink, true));
  }
  const frames = opusLoop(1000);
  const header = Buffer.alloc(12);
  let n = 0;
  const timer = setInterval(() => {
    const f = frames[n % frames.length];
    for (const b of all) {
      if (b.silent) continue;
      header[0] = 0x80;
      header[1] = 100;
      header.writeUInt16BE(b.seq++ & 0xffff, 2);
      header.writeUInt32BE((n * 960) >>> 0, 4);
      header.writeUInt32BE(b.ssrc, 8);
      sender.send([header, f], b.port, '127.0.0.1');
    }
    n++;
  }, 20);
  await new Promise((r) => setTimeout(r, 2000)); // warm-up: jitter buffers, decoders
  const pid = engine.workerPids[0];
  const w0 = processCpuMs(pid) ?? 0;
  const c0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const c1 = process.cpuUsage(c0);
  const w1 = processCpuMs(pid) ?? 0;
  clearInterval(timer);
  for (const room of rooms) room.close();
  sender.close();
  sink.close();
  return { nodeMs: (c1.user + c1.system) / 1000, workerMs: w1 - w0 };
}

async function main(): Promise<void> {
  const log = createLogger({ level: 'error', pretty: false });
  const engine = await MediaEngine.create({ ...defaultConfig.media, workers: 1 }, log);
  try {
    const load = loadavg()[0];
    const base = await measure(engine, 0);
    const withB = await measure(engine, BROWSERS);
    const legs = ROOMS * BROWSERS;
    const perLegNode = (withB.nodeMs - base.nodeMs) / SECONDS / legs; // ms of CPU per second per browser
    const perLegWorker = (withB.workerMs - base.workerMs) / SECONDS / legs;
    const result = {
      bench: 'webrtc',
      at: new Date().toISOString(),
      rooms: ROOMS,
      browsersPerRoom: BROWSERS,
      seconds: SECONDS,
      loadAvg1mBefore: Number(load.toFixed(2)),
      baseline: { nodeCpuMs: Math.round(base.nodeMs), workerCpuMs: Math.round(base.workerMs) },
      withBrowsers: { nodeCpuMs: Math.round(withB.nodeMs), workerCpuMs: Math.round(withB.workerMs) },
      perBrowserLeg: {
        nodeCpuPercent: Number((perLegNode / 10).toFixed(3)),
        workerCpuPercent: Number((perLegWorker / 10).toFixed(3)),
        totalCpuPercent: Number(((perLegNode + perLegWorker) / 10).toFixed(3)),
        browserLegsPerCore: Math.floor(1000 / Math.max(0.001, perLegNode + perLegWorker)),
      },
      note: 'browser stand-ins on PlainTransports (no DTLS/SRTP); senders and sinks in the same Node process: an upper bound for Node',
    };
    console.log(
      `${legs} browser legs in ${ROOMS} rooms: ${result.perBrowserLeg.nodeCpuPercent}% (Node) + ${result.perBrowserLeg.workerCpuPercent}% (mediasoup worker) of a core per browser leg ` +
        `(${result.perBrowserLeg.browserLegsPerCore} per core); load average before ${result.loadAvg1mBefore}`,
    );
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'webrtc.json'), JSON.stringify(result, null, 2) + '\n');
  } finally {
    engine.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// The media engine's base: a real mediasoup worker from Parley's own offline build.
// RTP from a plain UDP socket reaches a consumer in Node intact, and RTP produced
// in Node reaches a UDP socket, through a Router with PCMU, PCMA, opus and telephone-event.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { types as ms } from 'mediasoup';
import { WorkerPool } from '../../../src/media-plane/worker-pool.ts';
import { resolveWorkerBinary } from '../../../src/media-plane/worker-binary.ts';
import { silentLogger } from '../../../src/util/logger.ts';

const codecs: ms.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000, preferredPayloadType: 0 },
  { kind: 'audio', mimeType: 'audio/PCMA', clockRate: 8000, preferredPayloadType: 8 },
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 111 },
  { kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 8000, preferredPayloadType: 101 },
];

function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = pt & 0x7f;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

/** Parses an RTP packet, honouring CSRCs and the header extension mediasoup may add. */
function parseRtp(b: Buffer): { pt: number; seq: number; ts: number; ssrc: number; payload: Buffer } {
  const cc = b[0]! & 0x0f;
  let off = 12 + cc * 4;
  if (b[0]! & 0x10) off += 4 + b.readUInt16BE(off + 2) * 4;
  let end = b.length;
  if (b[0]! & 0x20) end -= b[b.length - 1]!;
  return { pt: b[1]! & 0x7f, seq: b.readUInt16BE(2), ts: b.readUInt32BE(4), ssrc: b.readUInt32BE(8), payload: b.subarray(off, end) };
}

function payloadFor(i: number): Buffer {
  const p = Buffer.alloc(160);
  for (let k = 0; k < p.length; k++) p[k] = (i * 7 + k) & 0xff;
  return p;
}

async function udpSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

describe('mediasoup worker (offline build) with RTP over loopback', () => {
  let pool: WorkerPool;
  let router: ms.Router;

  before(async () => {
    pool = await WorkerPool.create({
      size: 1,
      workerBin: resolveWorkerBinary(null),
      rtcMinPort: 40000,
      rtcMaxPort: 49999,
      log: silentLogger(),
    });
    router = await pool.createRouter(codecs);
  });

  after(() => pool.close());

  it('the router offers PCMU, PCMA, opus and telephone-event', () => {
    const names = router.rtpCapabilities.codecs!.map((c) => `${c.mimeType}/${c.clockRate}`);
    for (const want of ['audio/PCMU/8000', 'audio/PCMA/8000', 'audio/opus/48000', 'audio/telephone-event/8000']) {
      assert.ok(names.includes(want), `${want} in ${names.join(', ')}`);
    }
  });

  it('RTP sent from a UDP socket into a PlainTransport arrives intact at a consumer in Node', async () => {
    const plain = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: true,
    });
    const ssrc = 0x11223344;
    const producer = await plain.produce({
      kind: 'audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/PCMU', clockRate: 8000, payloadType: 0 }],
        encodings: [{ ssrc }],
      },
    });
    const direct = await router.createDirectTransport();
    const consumer = await direct.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    const got: ReturnType<typeof parseRtp>[] = [];
    const n = 20;
    const all = new Promise<void>((resolve) => {
      consumer.on('rtp', (packet: Buffer) => {
        got.push(parseRtp(packet));
        if (got.length === n) resolve();
      });
    });
    const sender = await udpSocket();
    for (let i = 0; i < n; i++) {
      sender.send(rtp(0, 1000 + i, 160 * i, ssrc, payloadFor(i)), plain.tuple.localPort, '127.0.0.1');
    }
    await all;
    sender.close();
    for (let i = 0; i < n; i++) {
      assert.equal(got[i]!.pt, 0, 'payload type kept');
      assert.deepEqual(got[i]!.payload, payloadFor(i), `payload of packet ${i} intact`);
      assert.equal((got[i]!.seq - got[0]!.seq + 0x10000) % 0x10000, i, 'sequence continuous');
    }
    plain.close();
    direct.close();
  });

  it('RTP produced in Node arrives at a UDP socket through a PlainTransport', async () => {
    const receiver = await udpSocket();
    const direct = await router.createDirectTransport();
    const producer = await direct.produce({
      kind: 'audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/PCMA', clockRate: 8000, payloadType: 8 }],
        encodings: [{ ssrc: 0x55667788 }],
      },
    });
    const plain = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: false,
    });
    await plain.connect({ ip: '127.0.0.1', port: receiver.address().port });
    const consumer = await plain.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    await consumer.resume();
    const n = 20;
    const got: ReturnType<typeof parseRtp>[] = [];
    const all = new Promise<void>((resolve) => {
      receiver.on('message', (msg) => {
        if ((msg[1]! & 0x7f) >= 72 && (msg[1]! & 0x7f) <= 79) return; // RTCP on the muxed port
        got.push(parseRtp(msg));
        if (got.length === n) resolve();
      });
    });
    for (let i = 0; i < n; i++) producer.send(rtp(8, 500 + i, 160 * i, 0x55667788, payloadFor(i + 100)));
    await all;
    for (let i = 0; i < n; i++) {
      assert.equal(got[i]!.pt, 8);
      assert.deepEqual(got[i]!.payload, payloadFor(i + 100), `payload of packet ${i} intact`);
    }
    receiver.close();
    plain.close();
    direct.close();
  });

  it('a killed worker is replaced and the pool says which one died', async () => {
    const [pid] = pool.pids;
    const died = pool.waitFor('workerdied', 10_000);
    process.kill(pid!, 'SIGKILL');
    const [dead, replacement] = await died;
    assert.equal(dead.pid, pid);
    assert.ok(replacement, 'a replacement worker');
    assert.notEqual(replacement.pid, pid);
    assert.deepEqual(pool.pids, [replacement.pid]);
    const r = await pool.createRouter(codecs);
    assert.ok(r.rtpCapabilities.codecs!.length >= 4, 'the replacement serves new routers');
  });
});

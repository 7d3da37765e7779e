// The legs' RTP read and sent in batches through the parley-udp addon
// (media.nativeIo, src/media-plane/native-udp.ts), against real UDP peers. The rooms
// run on this test's thread (media.threads 0) so that the thread's reader, and its
// counters, are the ones the legs use. With the setting off, dgram reads them as before
// and the addon sees nothing.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { NativeUdp, nativeUdpError } from '../../../src/media-plane/native-udp.ts';
import { startEngine, talkingPair } from '../../helpers/media-harness.ts';
import { buildRtp } from '../../helpers/rtp.ts';
import { waitFor } from '../../helpers/wait.ts';

function reader(): NativeUdp {
  const io = NativeUdp.forThread();
  assert.ok(io, `the parley-udp addon does not load: ${nativeUdpError()}`);
  return io;
}

async function rawSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/** An SDP offer of PCMU from 127.0.0.1:`port` (nobody listens there: the packets come from a raw socket). */
const offer = (port: number): string =>
  ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');

describe('batched RTP I/O through the parley-udp addon (real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine({ threads: 0, nativeIo: true, rtpPortRange: { min: 43400, max: 43599 } });
  });
  after(() => engine.close());

  it('carries a two-party call both ways: every packet read and sent by the addon', async (t) => {
    const io = reader();
    const before0 = io.counters;
    const room = await engine.createRoom('native-pair');
    const [a, b] = await talkingPair(t, room);
    const got = io.counters;
    const inA = a.leg.endpoint!.stats.packetsIn;
    const inB = b.leg.endpoint!.stats.packetsIn;
    // Every packet the legs took came through the addon (nothing else is read on this thread now).
    assert.ok(got.packetsIn - before0.packetsIn >= inA + inB, `addon read ${got.packetsIn - before0.packetsIn}, legs took ${inA} + ${inB}`);
    const out = a.leg.endpoint!.stats.packetsOut + b.leg.endpoint!.stats.packetsOut;
    assert.ok(got.packetsOut - before0.packetsOut >= out * 0.9, `addon sent ${got.packetsOut - before0.packetsOut}, legs sent ${out}`);
    assert.equal(got.sendErrors, before0.sendErrors, 'sends failed');
    room.close();
    assert.equal(io.sockets, 0, 'closed legs are still read by the addon');
  });

  it('reads a burst to many legs in one wake-up, each packet to its own leg', async () => {
    const io = reader();
    const src = await rawSocket();
    const room = await engine.createRoom('native-burst');
    try {
      const legs: Awaited<ReturnType<typeof room.createLeg>>['leg'][] = [];
      for (let i = 0; i < 40; i++) legs.push((await room.createLeg(offer(src.address().port), { id: `l${i}` })).leg);
      const before0 = io.counters;
      // All sent within one task of this thread: the thread reads them after it, all ready at once.
      for (let i = 0; i < legs.length; i++) src.send(buildRtp({ payloadType: 0, seq: 1, timestamp: 160, ssrc: 0x1000 + i, payload: Buffer.alloc(160, 0xff) }), legs[i].endpoint!.port, '127.0.0.1');
      await waitFor('the burst read', () => io.counters.packetsIn - before0.packetsIn >= legs.length, 5000);
      const got = io.counters;
      assert.ok(got.batches - before0.batches <= 4, `${legs.length} packets took ${got.batches - before0.batches} wake-ups`);
      // A leg's first SSRC is on probation (ssrc-probation.ts): its first packet is taken with its
      // second, numbered in sequence. Each leg's second packet, then each leg took its two.
      for (let i = 0; i < legs.length; i++) src.send(buildRtp({ payloadType: 0, seq: 2, timestamp: 320, ssrc: 0x1000 + i, payload: Buffer.alloc(160, 0xff) }), legs[i].endpoint!.port, '127.0.0.1');
      await waitFor('the second burst read', () => io.counters.packetsIn - before0.packetsIn >= 2 * legs.length, 5000);
      await waitFor('every leg took its two', () => legs.every((l) => l.endpoint!.stats.packetsIn >= 2) || undefined, 5000).catch(() => undefined);
      for (let i = 0; i < legs.length; i++) assert.equal(legs[i].endpoint!.stats.packetsIn, 2, `leg ${i} took ${legs[i].endpoint!.stats.packetsIn} packets`);
    } finally {
      src.close();
      room.close();
    }
  });

  it('hands a packet of the same length as the last one in its slot the same Buffer, with the new bytes', async () => {
    const io = reader();
    const src = await rawSocket();
    const dst = await rawSocket();
    const seen: { buf: Buffer; first: number; len: number }[] = [];
    const id = io.attach(dst, (buf) => seen.push({ buf, first: buf[0]!, len: buf.length }));
    assert.notEqual(id, null, 'attached');
    try {
      // One packet per wake-up (each waited for): each lands in the batch's first slot.
      for (const [first, len] of [[1, 172], [2, 172], [3, 172], [4, 100], [5, 100]] as const) {
        const n = seen.length;
        src.send(Buffer.alloc(len, first), dst.address().port, '127.0.0.1');
        await waitFor(`packet ${first} read`, () => seen.length > n || undefined, 5000);
      }
      assert.deepEqual(seen.map((p) => [p.first, p.len]), [[1, 172], [2, 172], [3, 172], [4, 100], [5, 100]], 'each packet as sent');
      assert.equal(seen[1]!.buf, seen[0]!.buf, 'same length: the Buffer of the last batch');
      assert.equal(seen[2]!.buf, seen[0]!.buf);
      assert.notEqual(seen[3]!.buf, seen[0]!.buf, 'another length: a new Buffer');
      assert.equal(seen[4]!.buf, seen[3]!.buf);
    } finally {
      io.detach(id!);
      src.close();
      dst.close();
    }
  });

  it('counts a datagram larger than its buffer as malformed (truncated, never played) and goes on reading', async () => {
    const src = await rawSocket();
    const room = await engine.createRoom('native-oversized');
    try {
      const { leg } = await room.createLeg(offer(src.address().port), { id: 'big' });
      const port = leg.endpoint!.port;
      const huge = buildRtp({ payloadType: 0, seq: 1, timestamp: 160, ssrc: 0xbeef, payload: Buffer.alloc(9000, 0xff) });
      src.send(huge, port, '127.0.0.1');
      await waitFor('the oversized datagram counted', () => leg.endpoint!.stats.malformed === 1, 5000);
      // The next two (a first SSRC is taken with its second packet in sequence: ssrc-probation.ts).
      src.send(buildRtp({ payloadType: 0, seq: 2, timestamp: 320, ssrc: 0xbeef, payload: Buffer.alloc(160, 0xff) }), port, '127.0.0.1');
      src.send(buildRtp({ payloadType: 0, seq: 3, timestamp: 480, ssrc: 0xbeef, payload: Buffer.alloc(160, 0xff) }), port, '127.0.0.1');
      await waitFor('the next packets taken', () => leg.endpoint!.stats.packetsIn === 2, 5000);
      assert.equal(leg.endpoint!.stats.malformed, 1, 'only the oversized one is malformed');
      assert.deepEqual(leg.endpoint!.destination, { ip: '127.0.0.1', port: src.address().port }, 'latched to the sender');
    } finally {
      src.close();
      room.close();
    }
  });
});

describe('media.nativeIo off: dgram reads the legs', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine({ threads: 0, nativeIo: false, rtpPortRange: { min: 43600, max: 43799 } });
  });
  after(() => engine.close());

  it('carries the call, and the addon reads nothing', async (t) => {
    const io = reader();
    const before0 = io.counters;
    const [a, b] = await talkingPair(t, await engine.createRoom('dgram-pair'));
    assert.ok(a.leg.endpoint!.stats.packetsIn > 10 && b.leg.endpoint!.stats.packetsIn > 10, 'the legs took their peers\' packets');
    const got = io.counters;
    assert.equal(got.packetsIn, before0.packetsIn, 'the addon read packets');
    assert.equal(got.packetsOut, before0.packetsOut, 'the addon sent packets');
  });
});

// A listener's RtpOutput writes its next packet into the buffer of the last one
// when the transport says it is done with it (send() returned false), and never
// otherwise. Over a real RtpEndpoint on loopback: packets written into one reused
// buffer in a burst all reach the peer intact, each once (the endpoint's sockets
// resolve the address synchronously, so send() has handed the packet over before
// it returns; with dgram's default lookup the burst would arrive as copies of its
// last packet).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import { RtpOutput } from '../../../src/mixer/rtp-output.ts';
import { PortAllocator } from '../../../src/media-plane/port-allocator.ts';
import { RtpEndpoint } from '../../../src/media-plane/rtp-endpoint.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { parseRtp } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });

function payload(i: number, n = 160): Uint8Array {
  const p = new Uint8Array(n);
  for (let k = 0; k < n; k++) p[k] = (i * 7 + k) & 0xff;
  return p;
}

describe('RtpOutput packet buffers', () => {
  it('reuses the buffer only while the transport releases it, and never one a transport kept', () => {
    const kept: Buffer[] = [];
    let release = true;
    const seen: Buffer[] = [];
    const out = new RtpOutput(
      (p) => {
        seen.push(p);
        if (release) return false;
        kept.push(p);
        return true;
      },
      0,
      0x1234,
      8000,
    );
    out.beginForward(null, false);
    for (let i = 0; i < 5; i++) out.forward(0xabc, 100 + i, 160 * i, false, payload(i), 20 * i);
    // Released each time: one buffer for all five.
    assert.equal(new Set(seen).size, 1);
    release = false;
    for (let i = 5; i < 10; i++) out.forward(0xabc, 100 + i, 160 * i, false, payload(i), 20 * i);
    // The first kept packet still went out in the released buffer; after it every packet is new.
    assert.equal(new Set(seen.slice(5)).size, 5);
    assert.equal(seen[5], seen[0]);
    const seqs = kept.map((b) => parseRtp(b)!.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal((seqs[i] - seqs[i - 1]) & 0xffff, 1, seqs.join(' '));
    kept.forEach((b, j) => assert.deepEqual(parseRtp(b)!.payload, Buffer.from(payload(5 + j))));
  });

  it('a transport that returns nothing keeps its packets: each is a new buffer', () => {
    const sent: Buffer[] = [];
    const out = new RtpOutput((p) => void sent.push(p), 0, 1, 8000);
    for (let i = 0; i < 4; i++) out.sendFrame(payload(i), 20 * i);
    assert.equal(new Set(sent).size, 4);
    sent.forEach((b, i) => assert.deepEqual(parseRtp(b)!.payload, Buffer.from(payload(i))));
  });

  it('a packet of another size gets a buffer of its size', () => {
    const sent: Buffer[] = [];
    const out = new RtpOutput((p) => {
      sent.push(Buffer.from(p));
      return false;
    }, 111, 1, 48000);
    for (let i = 0; i < 6; i++) out.sendFrame(payload(i, 40 + (i % 3) * 20), 20 * i);
    assert.deepEqual(sent.map((b) => b.length), [52, 72, 92, 52, 72, 92]);
    sent.forEach((b, i) => assert.deepEqual(parseRtp(b)!.payload, Buffer.from(payload(i, 40 + (i % 3) * 20))));
  });
});

describe('RtpEndpoint.send with a reused buffer (loopback)', () => {
  const allocator = new PortAllocator({ min: 30000, max: 39999 }, { ip4: '127.0.0.1', ip6: null });
  const closers: (() => void)[] = [];
  after(() => closers.forEach((c) => c()));

  it('a burst written into one buffer reaches the peer intact, each packet once', async () => {
    const peer = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    closers.push(() => peer.close());
    const ep = await RtpEndpoint.open({ allocator, family: 4, announcedIp: '127.0.0.1', latching: 'latch', withRtcp: false, log, onRtp: () => undefined, onSsrc: () => undefined });
    closers.push(() => ep.close());
    ep.configure({ remote: { ip: '127.0.0.1', port: peer.address().port, rtcpPort: null, rtcpMux: true }, payloadTypes: [0], audioPt: 0, srtp: null, sending: true });
    const N = 200;
    const got = new Map<number, Buffer>();
    const all = new Promise<void>((resolve) => {
      peer.on('message', (m: Buffer) => {
        const p = parseRtp(m)!;
        assert.ok(!got.has(p.seq), `sequence ${p.seq} arrived twice`);
        got.set(p.seq, Buffer.from(p.payload));
        if (got.size === N) resolve();
      });
    });
    let buffers = 0;
    let last: Buffer | null = null;
    const out = new RtpOutput(
      (p) => {
        if (p !== last) buffers++;
        last = p;
        return ep.send(p);
      },
      0,
      0x55,
      8000,
    );
    out.beginForward(null, false);
    // One synchronous burst: nothing reaches the peer before the last packet was written.
    for (let i = 0; i < N; i++) out.forward(0x77, 1000 + i, 160 * i, false, payload(i), 0);
    await all;
    assert.ok(buffers < N / 2, `${buffers} buffers for ${N} packets: the endpoint never released one`);
    // The output's first sequence number is random, so the burst may wrap past 65535:
    // order by distance from the one packet whose predecessor never came.
    const keys = [...got.keys()];
    const firsts = keys.filter((s) => !got.has((s - 1) & 0xffff));
    assert.equal(firsts.length, 1, `the sequence numbers are not one run: ${keys.join(' ')}`);
    const seqs = keys.sort((a, b) => ((a - firsts[0]) & 0xffff) - ((b - firsts[0]) & 0xffff));
    assert.equal(seqs.length, N);
    seqs.forEach((s, i) => assert.deepEqual(got.get(s), Buffer.from(payload(i)), `payload of packet ${i}`));
  });

  it('send() on a closed endpoint releases the packet (false)', async () => {
    const ep = await RtpEndpoint.open({ allocator, family: 4, announcedIp: '127.0.0.1', latching: 'latch', withRtcp: false, log, onRtp: () => undefined, onSsrc: () => undefined });
    ep.configure({ remote: { ip: '127.0.0.1', port: 9, rtcpPort: null, rtcpMux: true }, payloadTypes: [0], audioPt: 0, srtp: null, sending: true });
    ep.close();
    assert.equal(ep.send(Buffer.alloc(172, 0x80)), false);
  });
});

// The room's mediasoup hub, with a real worker: made only when asked; the room
// publishes its mix and its legs into the Router under SSRCs Parley chose; an
// external consumer hears them; an external producer is heard by the SIP legs
// through the mixer; the hub dies with its worker and the calls go on.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { types as ms } from 'mediasoup';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { RoomHub } from '../../../src/media-plane/room-hub.ts';
import type { AudioDecoder } from '../../../src/mixer/codecs/audio-codec.ts';
import { G711Decoder, G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import { G722Decoder } from '../../../src/mixer/codecs/g722.ts';
import { OpusDecoder } from '../../../src/mixer/codecs/opus-codec.ts';
import { medianToneShare, tone } from '../../helpers/audio-analysis.ts';
import { collect, envelope, inRoom, joinPeer, startEngine, waitForSound, type JoinedPeer } from '../../helpers/media-harness.ts';
import { FramePacer } from '../../helpers/frame-pacer.ts';
import { buildRtp, parseRtp, type RtpPacket } from '../../helpers/rtp.ts';
import { RtpPeer } from '../../helpers/rtp-peer.ts';
import { waitFor } from '../../helpers/wait.ts';

/** A UDP socket on loopback that keeps the RTP it receives, by SSRC. */
class RtpSink {
  readonly socket = dgram.createSocket('udp4');
  readonly packets: RtpPacket[] = [];
  constructor() {
    this.socket.on('message', (b) => {
      const p = parseRtp(b);
      if (p) this.packets.push({ ...p, payload: Buffer.from(p.payload) });
    });
  }
  async bind(): Promise<this> {
    this.socket.bind(0, '127.0.0.1');
    await once(this.socket, 'listening');
    return this;
  }
  get port(): number {
    return this.socket.address().port;
  }
  of(ssrc: number): RtpPacket[] {
    return this.packets.filter((p) => p.ssrc === ssrc);
  }
  /** The next `count` packets of `ssrc`, decoded in sequence order. */
  async decodeNext(ssrc: number, count: number, dec: AudioDecoder): Promise<Int16Array> {
    const from = this.of(ssrc).length;
    await waitFor(`${count} packets of SSRC ${ssrc}`, () => this.of(ssrc).length >= from + count);
    const pkts = this.of(ssrc).slice(from, from + count).sort((a, b) => ((a.seq - b.seq + 0x8000) & 0xffff) - 0x8000);
    const frame = new Int16Array(dec.rate / 50);
    const out = new Int16Array(pkts.length * frame.length);
    pkts.forEach((p, i) => {
      frame.fill(0);
      dec.decode(p.payload, frame);
      out.set(frame, i * frame.length);
    });
    dec.close();
    return out;
  }
  close(): void {
    this.socket.close();
  }
}

/** A Consumer of `producer` on a PlainTransport of `router` that sends to `sink`. */
async function externalConsumer(router: ms.Router, producer: ms.Producer, sink: RtpSink): Promise<ms.Consumer> {
  const t = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
  await t.connect({ ip: '127.0.0.1', port: sink.port });
  return t.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
}

async function legProducer(hub: RoomHub, legId: string): Promise<ms.Producer> {
  return hub.legProducer(legId) ?? waitFor(`leg ${legId}'s producer`, () => hub.legProducer(legId));
}

describe('room hub: mediasoup Router per room, on demand (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('publishes the mix and each leg, brings an external producer into the mix, and dies with its worker without ending calls', async (t) => {
    // Each closed when the case ends, whatever happens: a failed assertion must not leave
    // peers sending (the file would wait for its timeout).
    const room = await engine.createRoom('hubbed');
    t.after(() => room.close());
    const a: JoinedPeer = await joinPeer(room, { codec: 'PCMU', id: 'a' });
    t.after(() => a.peer.close());
    const b: JoinedPeer = await joinPeer(room, { codec: 'PCMU', id: 'b' });
    t.after(() => b.peer.close());
    a.peer.setTone(440);
    b.peer.setTone(1000);
    await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);

    // Nothing in mediasoup until something needs the room.
    assert.equal(engine.hubCount, 0);
    assert.deepEqual(await engine.workerRouterIds(), [], 'the worker has no router');

    const [hub, same] = await Promise.all([engine.hubFor(room.id), engine.hubFor(room.id)]);
    assert.equal(same, hub, 'one hub per room, shared by concurrent callers');
    assert.equal(await engine.hubFor(room.id), hub);
    assert.deepEqual(await engine.workerRouterIds(), [hub.router.id]);
    assert.equal(hub.mixProducer.rtpParameters.encodings?.[0]?.ssrc, hub.link.mixSsrc, 'the mix is produced under the SSRC Parley chose');

    // Nobody consumes yet: the room sends the hub nothing (no Opus encode, no packet).
    const received = async (p: ms.Producer): Promise<number> => (await p.getStats()).reduce((n, st) => n + st.packetCount, 0);
    await legProducer(hub, 'b');
    assert.equal(await received(hub.mixProducer), 0, 'the mix is not sent while nobody consumes it');

    // An external consumer of the mix (Opus) hears both legs.
    const sink = await new RtpSink().bind();
    t.after(() => sink.close());
    const mixConsumer = await externalConsumer(hub.router, hub.mixProducer, sink);
    assert.equal(mixConsumer.rtpParameters.codecs[0].mimeType.toLowerCase(), 'audio/opus');
    const mixSsrc = mixConsumer.rtpParameters.encodings![0].ssrc!;
    await sink.decodeNext(mixSsrc, 15, new OpusDecoder(16000)); // the decoder settles
    const mix = await sink.decodeNext(mixSsrc, 50, new OpusDecoder(16000));
    // Shares over 100 ms windows (a late frame shifts a tone's phase: one long window would cancel it out).
    const mix440 = medianToneShare(mix, 440, 16000);
    const mix1000 = medianToneShare(mix, 1000, 16000);
    assert.ok(mix440 > 0.3 && mix1000 > 0.3, `the mix carries both tones (440: ${mix440.toFixed(3)}, 1000: ${mix1000.toFixed(3)}; ${envelope(mix, 16000)})`);

    // One leg's stream: only that leg's voice, PCMU as the phone sent it, under the hub's SSRC.
    const aProducer = await legProducer(hub, 'a');
    assert.equal(aProducer.rtpParameters.codecs[0].mimeType, 'audio/PCMU');
    const legConsumer = await externalConsumer(hub.router, aProducer, sink);
    const legSsrc = legConsumer.rtpParameters.encodings![0].ssrc!;
    const legA = await sink.decodeNext(legSsrc, 50, new G711Decoder('ulaw'));
    assert.ok(medianToneShare(legA, 440, 8000) > 0.9, `leg a's stream is a's 440 Hz (share ${medianToneShare(legA, 440, 8000).toFixed(3)}; ${envelope(legA, 8000)})`);
    assert.ok(medianToneShare(legA, 1000, 8000) < 0.01, 'and not b\'s 1000 Hz');
    assert.ok(sink.of(legSsrc).every((p) => p.payloadType === legConsumer.rtpParameters.codecs[0].payloadType));
    assert.equal(await received(hub.legProducer('b')!), 0, 'leg b, consumed by nobody, is not sent');

    // The mix's last consumer goes: the room stops sending it (while leg a's stream goes on).
    mixConsumer.close();
    await sink.decodeNext(legSsrc, 5, new G711Decoder('ulaw'));
    const mixSent = await received(hub.mixProducer);
    assert.ok(mixSent >= 65, `the mix producer received what was consumed (${mixSent} packets)`);
    await sink.decodeNext(legSsrc, 10, new G711Decoder('ulaw'));
    assert.ok((await received(hub.mixProducer)) <= mixSent + 1, 'no mix sent without a consumer');

    // An external producer (a browser's stand-in): 700 Hz PCMU into a PlainTransport on the hub's Router.
    const ext = await hub.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    const extSsrc = 0x7000_0001;
    const producer = await ext.produce({
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/PCMU', payloadType: 0, clockRate: 8000 }], encodings: [{ ssrc: extSsrc }] },
    });
    const input = await hub.consume(producer.id, 'browser');
    assert.notEqual(input.rtpParameters.encodings![0].ssrc, extSsrc, 'the room knows the stream by the SSRC mediasoup gave its consumer');
    const sender = dgram.createSocket('udp4');
    const enc = new G711Encoder('ulaw');
    let n = 0; // frames of time (the timestamp and the tone's phase)
    let seq = 0; // packets sent
    const pacer = new FramePacer((skipped) => {
      n += skipped;
      const pcm = tone(700, 8000, 160, 8000, n * 160);
      const payload = Buffer.alloc(160);
      enc.encode(pcm, payload);
      sender.send(buildRtp({ payloadType: 0, seq: seq++ & 0xffff, timestamp: (n * 160) >>> 0, ssrc: extSsrc, payload }), ext.tuple.localPort, '127.0.0.1');
      n++;
    });
    pacer.start();
    try {
      await waitFor('a hears 700 Hz', async () => medianToneShare(await collect(a.peer, 10), 700, 8000) > 0.2);
      const [heardA, heardB] = await Promise.all([collect(a.peer, 50), collect(b.peer, 50)]);
      for (const [who, heard, other] of [['a', heardA, 1000], ['b', heardB, 440]] as const) {
        const t700 = medianToneShare(heard, 700, 8000);
        const tOther = medianToneShare(heard, other, 8000);
        assert.ok(t700 > 0.3, `${who} hears the external producer's 700 Hz (share ${t700.toFixed(3)}; ${envelope(heard, 8000)})`);
        assert.ok(tOther > 0.3, `${who} still hears the other leg (share ${tOther.toFixed(3)})`);
      }
    } finally {
      pacer.stop();
      sender.close();
      enc.close();
    }

    // The worker dies: the hub closes, the room goes on without it, the legs keep hearing each other.
    const closed = hub.waitFor('close', 10000);
    const deadPid = engine.workerPids[0];
    process.kill(deadPid, 'SIGKILL');
    assert.deepEqual(await closed, ['worker-died']);
    assert.equal(engine.hubCount, 0);
    assert.equal(room.isClosed, false);
    assert.equal(a.leg.isClosed || b.leg.isClosed, false);
    const [afterA, afterB] = await Promise.all([collect(a.peer, 25), collect(b.peer, 25)]);
    assert.ok(medianToneShare(afterA, 1000, 8000) > 0.8, `a still hears b (${envelope(afterA, 8000)})`);
    assert.ok(medianToneShare(afterB, 440, 8000) > 0.8, `b still hears a (${envelope(afterB, 8000)})`);
    assert.ok(medianToneShare(afterA, 700, 8000) < 0.02, 'the hub\'s input left the mix with the hub');

    // A new hub can be made on the replacement worker.
    await waitFor('a replacement worker', () => engine.workerPids.length === 1 && engine.workerPids[0] !== deadPid);
    const again = await waitFor('a new hub', () => engine.hubFor(room.id).catch(() => undefined));
    assert.notEqual(again, hub);
    room.close();
    assert.equal(again.isClosed, true, 'the room closing closes its hub');
  });

  it('a room that closes closes its hub (and its Router); a hub asked for a closed room is refused', async (t) => {
    const room = await engine.createRoom('short');
    t.after(() => room.close());
    const a = await joinPeer(room, { codec: 'PCMU' });
    t.after(() => a.peer.close());
    const hub = await engine.hubFor(room.id);
    const ids = await engine.workerRouterIds();
    assert.ok(ids.includes(hub.router.id));
    const closed = hub.waitFor('close', 5000);
    room.close();
    assert.deepEqual(await closed, ['room-closed']);
    assert.equal(hub.router.closed, true);
    assert.ok(!(await engine.workerRouterIds()).includes(hub.router.id), 'the worker dropped the router');
    await assert.rejects(engine.hubFor(room.id), /not open/);
  });

  it('a re-INVITE that changes a leg\'s codec remakes its Producer, and the new stream carries the leg', async (t) => {
    const room = await engine.createRoom('recodec');
    t.after(() => room.close());
    const a = await joinPeer(room, { codec: 'PCMU', id: 'a' });
    t.after(() => a.peer.close());
    const hub = await engine.hubFor(room.id);
    const first = await legProducer(hub, 'a');
    assert.equal(first.rtpParameters.codecs[0].mimeType, 'audio/PCMU');
    // The same leg moves to G.722 (a new phone socket, as a transfer or a codec change would do).
    const next = hub.waitFor('legproducer', 5000);
    const g722 = await new RtpPeer({ codec: 'G722' }).bind();
    t.after(() => g722.close());
    g722.useRemoteSdp(await a.leg.applyOffer(g722.sdp()));
    a.peer.stopSending();
    g722.start({ kind: 'tone', freq: 600, amplitude: 8000 });
    const [legId, producer] = await next;
    assert.equal(legId, 'a');
    assert.equal(producer.rtpParameters.codecs[0].mimeType, 'audio/G722');
    assert.equal(first.closed, true, 'the PCMU Producer is gone');
    assert.notEqual(producer.rtpParameters.encodings![0].ssrc, first.rtpParameters.encodings![0].ssrc);
    const sink = await new RtpSink().bind();
    t.after(() => sink.close());
    const consumer = await externalConsumer(hub.router, producer, sink);
    const heard = await sink.decodeNext(consumer.rtpParameters.encodings![0].ssrc!, 50, new G722Decoder());
    assert.ok(medianToneShare(heard, 600, 16000) > 0.9, `the G.722 stream carries the leg's 600 Hz (${envelope(heard, 16000)})`);
  });

  it('hub.close() leaves the room and its calls as they were', () => inRoom(engine, 'drop', async (room, join) => {
    const a = await join(room, { codec: 'PCMU' });
    const b = await join(room, { codec: 'PCMU' });
    a.peer.setTone(440);
    const hub = await engine.hubFor(room.id);
    hub.close();
    hub.close();
    assert.equal(engine.hub(room.id), undefined);
    await waitForSound(b.peer);
    assert.ok(medianToneShare(await collect(b.peer, 25), 440, 8000) > 0.8);
  }));
});

// A browser's media path through the room hub, with a real worker and without
// a browser: a PlainTransport Producer stands in for the browser's microphone
// (700 Hz Opus, as a browser sends). Brought in with hub.consume() it is heard by the SIP legs;
// hub.produceInputMix() gives it its own mix-minus (Opus), which carries the
// legs and not its own voice; with an audience (a whisper) only that leg hears
// it; muted, nobody does; closing the output Producer stops the encoding.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { types as ms } from 'mediasoup';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { OpusDecoder, OpusEncoder } from '../../../src/mixer/codecs/opus-codec.ts';
import { medianToneShare, tone } from '../../helpers/audio-analysis.ts';
import { collect, envelope, joinPeer, startEngine, waitForSound } from '../../helpers/media-harness.ts';
import { FramePacer } from '../../helpers/frame-pacer.ts';
import { buildRtp, parseRtp, type RtpPacket } from '../../helpers/rtp.ts';
import { waitFor } from '../../helpers/wait.ts';

const MIC_HZ = 700;

/** The browser's stand-in: a Producer on a PlainTransport of the room's Router, fed 700 Hz Opus every 20 ms. */
async function fakeMicrophone(router: ms.Router): Promise<{ producer: ms.Producer; stop(): void }> {
  const t = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
  const ssrc = 0x7100_0001;
  const producer = await t.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] } });
  const sender = dgram.createSocket('udp4');
  const enc = new OpusEncoder(16000);
  const buf = new Uint8Array(1500);
  let n = 0; // frames of time (the timestamp and the tone's phase)
  let seq = 0; // packets sent
  const pacer = new FramePacer((skipped) => {
    n += skipped;
    const len = enc.encode(tone(MIC_HZ, 16000, 320, 8000, n * 320), buf);
    const payload = Buffer.from(buf.subarray(0, len));
    sender.send(buildRtp({ payloadType: 100, seq: seq++ & 0xffff, timestamp: (n * 960) >>> 0, ssrc, payload }), t.tuple.localPort, '127.0.0.1');
    n++;
  });
  pacer.start();
  return {
    producer,
    stop: () => {
      pacer.stop();
      sender.close();
      enc.close();
      t.close();
    },
  };
}

/** What a consumer of `producer` receives (Opus), decoded at 16 kHz. */
async function listenTo(router: ms.Router, producer: ms.Producer): Promise<{ next(frames: number): Promise<Int16Array>; consumer: ms.Consumer; close(): void }> {
  const socket = dgram.createSocket('udp4');
  const got: RtpPacket[] = [];
  socket.on('message', (b) => {
    const p = parseRtp(b);
    if (p) got.push({ ...p, payload: Buffer.from(p.payload) });
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const t = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
  await t.connect({ ip: '127.0.0.1', port: socket.address().port });
  const consumer = await t.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
  return {
    consumer,
    async next(frames: number): Promise<Int16Array> {
      const from = got.length;
      await waitFor(`${frames} packets`, () => got.length >= from + frames);
      const dec = new OpusDecoder(16000);
      const out = new Int16Array(frames * 320);
      const frame = new Int16Array(320);
      got.slice(from, from + frames).forEach((p, i) => {
        dec.decode(p.payload, frame);
        out.set(frame, i * 320);
      });
      dec.close();
      return out;
    },
    close: () => {
      t.close();
      socket.close();
    },
  };
}

describe("a browser's media through the room hub: mixer input, own mix-minus, whisper, mute (real worker)", () => {
  let engine: MediaEngine;
  before(async () => {
    // This test reads the hub publisher's own counters (room.publisher.stats): the room runs on this thread.
    engine = await startEngine({ threads: 0 });
  });
  after(() => engine.close());

  it('is heard by the legs and hears them minus itself; a whisper reaches one leg; muted it is heard by nobody', async () => {
    const room = await engine.createRoom('browsers');
    const a = await joinPeer(room, { codec: 'PCMU', id: 'a' });
    const b = await joinPeer(room, { codec: 'PCMU', id: 'b' });
    a.peer.setTone(440);
    await waitForSound(b.peer);
    const hub = await engine.hubFor(room.id);
    const mic = await fakeMicrophone(hub.router);
    try {
      await hub.consume(mic.producer.id, 'web-1');
      const out = await hub.produceInputMix('web-1');
      assert.equal(out.rtpParameters.codecs[0].mimeType.toLowerCase(), 'audio/opus');
      const ear = await listenTo(hub.router, out);
      await waitFor('a hears the browser', async () => medianToneShare(await collect(a.peer, 10), MIC_HZ, 8000) > 0.2);
      const heardA = await collect(a.peer, 50);
      assert.ok(medianToneShare(heardA, MIC_HZ, 8000) > 0.5, `a hears the browser's 700 Hz (${envelope(heardA, 8000)})`);
      await ear.next(15); // the decoder settles
      const mine = await ear.next(50);
      const s440 = medianToneShare(mine, 440, 16000);
      const s700 = medianToneShare(mine, MIC_HZ, 16000);
      assert.ok(s440 > 0.5, `the browser hears a's 440 Hz (share ${s440.toFixed(3)}; ${envelope(mine, 16000)})`);
      assert.ok(s700 < 0.02, `and not its own 700 Hz (share ${s700.toFixed(3)})`);

      // A whisper: only b hears the browser.
      hub.updateInput('web-1', { audience: ['b'] });
      await waitFor('a no longer hears the browser', async () => medianToneShare(await collect(a.peer, 10), MIC_HZ, 8000) < 0.05);
      const [atA, atB] = await Promise.all([collect(a.peer, 50), collect(b.peer, 50)]);
      assert.ok(medianToneShare(atA, MIC_HZ, 8000) < 0.02, `a does not hear the whisper (${envelope(atA, 8000)})`);
      assert.ok(medianToneShare(atB, MIC_HZ, 8000) > 0.3, `b hears it (${envelope(atB, 8000)})`);

      // Muted: nobody hears it.
      hub.updateInput('web-1', { audience: null, muted: true });
      await waitFor('b no longer hears the browser', async () => medianToneShare(await collect(b.peer, 10), MIC_HZ, 8000) < 0.05);
      const mutedB = await collect(b.peer, 50);
      assert.ok(medianToneShare(mutedB, MIC_HZ, 8000) < 0.02, `b does not hear the muted browser (${envelope(mutedB, 8000)})`);

      // The output Producer closes: the room stops encoding the browser's mix.
      const pub = (room as unknown as { publisher: { stats: { inputMixPackets: number } } }).publisher;
      const sent = pub.stats.inputMixPackets;
      assert.ok(sent > 50, `the browser's mix was sent (${sent} packets)`);
      out.close();
      await collect(a.peer, 10);
      const after = pub.stats.inputMixPackets;
      await collect(a.peer, 10);
      assert.equal(pub.stats.inputMixPackets, after, 'nothing is encoded for a closed output');
      ear.close();
    } finally {
      mic.stop();
      await Promise.all([a.peer.close(), b.peer.close()]);
      room.close();
    }
  });
});

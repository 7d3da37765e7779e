// Rooms in media threads (media.threads: 2): rooms spread over the threads and
// audio flows; a real Recorder on the main thread, fed across the tick ring,
// records a tone with no lost tick; a thread that crashes closes only its
// rooms ('media-thread-died'), its recorder's files stay playable, and a new
// thread takes its place; a flood of junk on one leg does not hurt its thread.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { medianToneShare, readWavFile, soxInfo, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { collect, startEngine, talkingPair, type JoinedPeer } from '../../helpers/media-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

async function hearsEachOther(a: JoinedPeer, b: JoinedPeer): Promise<void> {
  const [byA, byB] = await Promise.all([collect(a.peer, 50), collect(b.peer, 50)]);
  assert.ok(medianToneShare(byA, 1000, 8000) > 0.8, `A hears B's 1000 Hz (share ${medianToneShare(byA, 1000, 8000).toFixed(3)})`);
  assert.ok(medianToneShare(byB, 440, 8000) > 0.8, `B hears A's 440 Hz (share ${medianToneShare(byB, 440, 8000).toFixed(3)})`);
}

describe('media threads (media.threads: 2, real UDP)', () => {
  let engine: MediaEngine;
  const root = mkdtempSync(join(tmpdir(), 'parley-threads-'));
  before(async () => {
    engine = await startEngine({ threads: 2 });
  });
  after(() => engine.close());

  it('rooms spread over both threads and each carries its audio', async (t) => {
    assert.equal(engine.threadCount, 2);
    const r1 = await engine.createRoom('t1');
    const r2 = await engine.createRoom('t2');
    assert.notEqual(engine.threadOf('t1'), engine.threadOf('t2'), 'the second room goes to the idle thread');
    const [a1, b1] = await talkingPair(t, r1);
    const [a2, b2] = await talkingPair(t, r2);
    await Promise.all([hearsEachOther(a1, b1), hearsEachOther(a2, b2)]);
    // The endpoint figures cross in the thread's snapshot.
    await waitFor('packet counters from the thread', () => (a1.leg.endpoint?.stats.packetsIn ?? 0) > 50, 5000);
    await Promise.all([a1.peer.close(), b1.peer.close(), a2.peer.close(), b2.peer.close()]);
    r1.close();
    r2.close();
    await waitFor('ports given back', () => engine.portsInUse === 0, 5000);
  });

  it('a recorder on the main thread, fed across the ring, records both tones with no lost tick', async (t) => {
    const svc = new RecordingService({ dir: join(root, 'ring'), postProcess: 'none', log: silentLogger() });
    t.after(() => svc.close());
    const room = await engine.createRoom('rec');
    const [a] = await talkingPair(t, room);
    const rec = svc.createRecorder({ roomId: 'rec', sampleRate: 16000 });
    rec.addLeg('a', { uri: 'sip:a@example.com', callId: 'a', role: 'caller' });
    rec.addLeg('b', { uri: 'sip:b@example.com', callId: 'b' });
    const times: number[] = [];
    const tap = { sampleRate: 16000, writeTick: (t: { timeMs: number }) => void times.push(t.timeMs) };
    room.addSink(rec);
    room.addSink(tap);
    await collect(a.peer, 100); // 2 s
    room.removeSink(rec);
    room.removeSink(tap);
    const closed = rec.waitFor('closed');
    rec.close();
    const [meta] = await closed;
    times.forEach((t, i) => i > 0 && assert.equal(t - times[i - 1]!, 20, `tick ${i} follows its predecessor by 20 ms`));
    assert.equal(engine.droppedRecordingTicks, 0);
    const dir = join(root, 'ring');
    const info = soxInfo(join(dir, meta.mix.file));
    assert.equal(info.rate, 16000);
    assert.ok(info.seconds >= 1.8, `about 2 s recorded (${info.seconds})`);
    const mix = readWavFile(join(dir, meta.mix.file)).samples;
    const stemA = readWavFile(join(dir, meta.legs.find((l) => l.id === 'a')!.stems[0]!.file)).samples;
    assert.ok(toneAmplitude(mix, 16000, 440, 8000, 16000) > 0.05 && toneAmplitude(mix, 16000, 1000, 8000, 16000) > 0.05, 'the mix holds both tones');
    assert.ok(medianToneShare(stemA, 440, 16000) > 0.8, "a's stem is its 440 Hz");
    await svc.settled();
  });

  it("a recorder's ring is used again by the next recorder only after the thread let go of it; both record their audio", async (t) => {
    const svc = new RecordingService({ dir: join(root, 'reuse'), postProcess: 'none', log: silentLogger() });
    t.after(() => svc.close());
    const room = await engine.createRoom('reuse');
    const [a] = await talkingPair(t, room);
    const record = async (): Promise<Int16Array> => {
      const rec = svc.createRecorder({ roomId: 'reuse', sampleRate: 16000 });
      rec.addLeg('a', { uri: 'sip:a@example.com', callId: 'a', role: 'caller' });
      rec.addLeg('b', { uri: 'sip:b@example.com', callId: 'b' });
      room.addSink(rec);
      await collect(a.peer, 50); // 1 s
      room.removeSink(rec);
      const closed = rec.waitFor('closed');
      rec.close();
      const [meta] = await closed;
      return readWavFile(join(root, 'reuse', meta.legs.find((l) => l.id === 'a')!.stems[0]!.file)).samples;
    };
    const first = await record();
    await engine.nextStats(); // a round trip: the thread has run 'sink.remove' (and let go of the ring)
    const mid = engine.ringStats;
    const second = await record();
    const after = engine.ringStats;
    assert.deepEqual([after.reused - mid.reused, after.made - mid.made], [1, 0], 'the second recorder got a ring used again, none made');
    assert.equal(engine.droppedRecordingTicks, 0);
    for (const [name, stem] of [['first', first], ['second', second]] as const) {
      assert.ok(stem.length >= 0.8 * 16000, `${name}: about 1 s recorded (${stem.length} samples)`);
      assert.ok(medianToneShare(stem, 440, 16000) > 0.8, `${name}: a's stem is its 440 Hz`);
    }
    await svc.settled();
  });

  it('a crashed thread closes only its rooms (recording playable) and is replaced', async (t) => {
    const svc = new RecordingService({ dir: join(root, 'crash'), postProcess: 'none', log: silentLogger() });
    t.after(() => svc.close());
    const doomed = await engine.createRoom('doomed');
    const safe = await engine.createRoom('safe');
    const k = engine.threadOf('doomed')!;
    assert.notEqual(engine.threadOf('safe'), k);
    const [da] = await talkingPair(t, doomed);
    const [sa, sb] = await talkingPair(t, safe);
    const rec = svc.createRecorder({ roomId: 'doomed', sampleRate: 16000 });
    doomed.addSink(rec);
    await collect(da.peer, 25);
    const closing = doomed.waitFor('close', 10000);
    const died = engine.waitFor('threaddied', 10000);
    engine.crashThreadForTest(k);
    const [reason] = await closing;
    assert.equal(reason, 'media-thread-died');
    assert.equal((await died)[0], k);
    assert.equal(safe.isClosed, false, 'the other thread\'s room goes on');
    await hearsEachOther(sa, sb);
    const closed = rec.waitFor('closed');
    rec.close();
    const [meta] = await closed;
    const info = soxInfo(join(root, 'crash', meta.mix.file));
    assert.ok(info.seconds > 0.4, `what was recorded before the crash is a playable file (${info.seconds} s)`);
    // The replacement thread takes new rooms and carries audio.
    const again = await engine.createRoom('again');
    const [ga, gb] = await talkingPair(t, again);
    await hearsEachOther(ga, gb);
  });

  it('20,000 junk and truncated datagrams on one leg: dropped and counted, the thread and its rooms go on', async (t) => {
    const room = await engine.createRoom('flood');
    const [a, b] = await talkingPair(t, room);
    const port = a.leg.endpoint!.port;
    const s = dgram.createSocket('udp4');
    t.after(() => s.close());
    const junk = [Buffer.alloc(3, 0x80), Buffer.alloc(1400, 0xff), Buffer.from('not rtp at all'), Buffer.alloc(12, 0x80)];
    for (let i = 0; i < 20000; i++) {
      s.send(junk[i % junk.length]!, port, '127.0.0.1');
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor('drops counted by the thread', () => (a.leg.endpoint?.stats.malformed ?? 0) + (a.leg.endpoint?.stats.wrongSource ?? 0) > 1000, 10000);
    assert.equal(room.isClosed, false);
    await hearsEachOther(a, b);
  });
});

describe('closing media threads while RTP still arrives (real threads, real UDP)', () => {
  it('each thread closes its sockets and ends by itself (exit code 0), not terminated with sockets open', async (t) => {
    // A worker terminated while a datagram arrives can abort the whole process (node's
    // UDPWrap::OnRecv → AddressToJS: "FATAL ERROR: v8::FromJust Maybe value is Nothing",
    // seen once in this suite); a thread that closes its sockets first cannot get one.
    const closing = await startEngine({ threads: 2 });
    const r1 = await closing.createRoom('c1');
    const r2 = await closing.createRoom('c2');
    assert.notEqual(closing.threadOf('c1'), closing.threadOf('c2'));
    const [a1, b1] = await talkingPair(t, r1);
    const [a2, b2] = await talkingPair(t, r2);
    await Promise.all([hearsEachOther(a1, b1), hearsEachOther(a2, b2)]);
    // The peers keep sending while the engine closes.
    closing.close();
    const codes = await closing.threadExitsForTest();
    assert.deepEqual(codes, [0, 0], `exit codes ${codes.join(', ')} (1: terminated)`);
    assert.equal(closing.portsInUse, 0);
  });
});

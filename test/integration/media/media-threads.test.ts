// Rooms in media threads (media.threads: 2): rooms spread over the threads and
// audio flows; a real Recorder on the main thread, fed across the tick ring,
// records a tone with no lost tick (a thread stalled past its clock's catch-up
// skips ticks, as a live room does: those, and only those, are missing, and the
// recording writes them as silence in place); a thread that crashes closes only its
// rooms ('media-thread-died'), its recorder's files stay playable, and a new
// thread takes its place; a flood of junk on one leg does not hurt its thread.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import { currentBundle } from '../../../src/media-plane/thread/thread-bundle.mjs';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
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

  it('the threads run the bundle made at setup while it is current; without it (PARLEY_MEDIA_THREAD_BUNDLE=0) the TypeScript, which carries audio too', async (t) => {
    const current = await currentBundle(new URL('../../../', import.meta.url));
    assert.deepEqual(engine.threadCode, current ? ['bundle', 'bundle'] : ['source', 'source'], `the bundle is ${current ? '' : 'not '}current (scripts/build-media-thread.mjs)`);
    process.env.PARLEY_MEDIA_THREAD_BUNDLE = '0';
    let fromSource: MediaEngine;
    try {
      fromSource = await startEngine({ threads: 1 });
    } finally {
      delete process.env.PARLEY_MEDIA_THREAD_BUNDLE;
    }
    t.after(() => fromSource.close());
    assert.deepEqual(fromSource.threadCode, ['source']);
    // Both ways the threads' Opus is Debian's libopus through the parley-opus addon (in-band FEC).
    for (const opus of [...engine.threadOpus, ...fromSource.threadOpus]) assert.match(opus ?? '', /^libopus \d[^ ]* \(native\)$/);
    const room = await fromSource.createRoom('from-source');
    const [a, b] = await talkingPair(t, room);
    await hearsEachOther(a, b);
    room.close();
  });

  /**
   * A Recorder and a tick tap (which keeps each tick's time), both main-thread sinks of room
   * `id` (its own rings), for 2 s of a talking pair; `during` runs meanwhile. Returns the
   * tap's tick times, the ticks the room's clock skipped over that time (its own counter,
   * fresh from the thread before and after) and the closed recording.
   */
  async function recordAcrossRing(t: TestContext, id: string, during: () => Promise<void> = async () => undefined): Promise<{ times: number[]; skipped: number; meta: RecordingMetadata; dir: string }> {
    const dir = join(root, id);
    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    t.after(() => svc.close());
    const room = await engine.createRoom(id);
    const [a] = await talkingPair(t, room);
    const rec = svc.createRecorder({ roomId: id, sampleRate: 16000 });
    rec.addLeg('a', { uri: 'sip:a@example.com', callId: 'a', role: 'caller' });
    rec.addLeg('b', { uri: 'sip:b@example.com', callId: 'b' });
    const times: number[] = [];
    const tap = { sampleRate: 16000, writeTick: (tick: { timeMs: number }) => void times.push(tick.timeMs) };
    await engine.nextStats();
    const skippedBefore = room.mixerStats.skipped;
    room.addSink(rec);
    room.addSink(tap);
    await Promise.all([collect(a.peer, 100), during()]); // 2 s
    room.removeSink(rec);
    room.removeSink(tap);
    await engine.nextStats();
    const skipped = room.mixerStats.skipped - skippedBefore;
    const closed = rec.waitFor('closed');
    rec.close();
    const [meta] = await closed;
    await svc.settled();
    return { times, skipped, meta, dir };
  }

  /**
   * Every tick the room's clock ran crossed the ring to the main thread, in order: a hole in
   * the tap's ticks is one the clock skipped (its thread stalled past the catch-up, as a live
   * room does: README, parley_mixer_skipped_ticks), never one the ring lost. Returns the ticks missing.
   */
  function assertEveryTickCrossed(times: number[], skipped: number): number {
    assert.ok(times.length >= 80, `about 2 s of ticks reached the tap (${times.length})`);
    const gaps = times.slice(1).map((x, i) => x - times[i]!);
    const odd = gaps.map((g, i) => [i + 1, g] as const).filter(([, g]) => g <= 0 || g % 20 !== 0);
    assert.deepEqual(odd, [], 'each tick follows its predecessor by a whole number of 20 ms frames');
    const missing = gaps.reduce((n, g) => n + g / 20 - 1, 0);
    assert.ok(missing <= skipped, `${missing} ticks missing at the tap, ${skipped} skipped by the room's clock (the rest lost crossing)`);
    assert.equal(engine.droppedRecordingTicks, 0, 'no tick dropped by a full ring');
    return missing;
  }

  it('a recorder on the main thread, fed across the ring, records both tones with no lost tick', async (t) => {
    const { times, skipped, meta, dir } = await recordAcrossRing(t, 'ring');
    // (On a loaded machine the room's thread may stall past its catch-up and skip ticks: then, and only then, the tap's ticks have a hole.)
    assertEveryTickCrossed(times, skipped);
    const info = soxInfo(join(dir, meta.mix.file));
    assert.equal(info.rate, 16000);
    assert.ok(info.seconds >= 1.8, `about 2 s recorded (${info.seconds})`);
    const span = (times.at(-1)! - times[0]! + 20) / 1000;
    assert.ok(Math.abs(info.seconds - span) <= 0.04, `the recording is as long as the room's ticks span (${info.seconds} s, ${span} s), a skipped tick written as silence`);
    const mix = readWavFile(join(dir, meta.mix.file)).samples;
    const stemA = readWavFile(join(dir, meta.legs.find((l) => l.id === 'a')!.stems[0]!.file)).samples;
    assert.ok(toneAmplitude(mix, 16000, 440, 8000, 16000) > 0.05 && toneAmplitude(mix, 16000, 1000, 8000, 16000) > 0.05, 'the mix holds both tones');
    assert.ok(medianToneShare(stemA, 440, 16000) > 0.8, "a's stem is its 440 Hz");
  });

  it("a thread stalled past its catch-up (300 ms): the ticks its clock skipped are the only ones missing at the main thread, and the recording holds them as silence, in place", async (t) => {
    const { times, skipped, meta, dir } = await recordAcrossRing(t, 'stall', async () => {
      await new Promise((r) => setTimeout(r, 1200));
      engine.stallThreadForTest(engine.threadOf('stall')!, 300);
      await new Promise((r) => setTimeout(r, 1000)); // recording on after it (however late this timer ran)
    });
    assert.ok(skipped >= 5, `the room's clock skipped ticks (${skipped})`);
    const missing = assertEveryTickCrossed(times, skipped);
    assert.ok(missing >= 5, `the skipped ticks are missing at the tap (${missing})`);
    // The widest hole, in the mix: silence where the room skipped, both tones around it.
    const at = times.slice(1).reduce((best, x, i) => (x - times[i]! > times[best + 1]! - times[best]! ? i : best), 0);
    const rate = 16000;
    const from = ((times[at]! + 20 - meta.startRoomMs!) * rate) / 1000;
    const len = ((times[at + 1]! - times[at]! - 20) * rate) / 1000;
    const mix = readWavFile(join(dir, meta.mix.file)).samples;
    const span = (times.at(-1)! - times[0]! + 20) / 1000;
    assert.ok(Math.abs(mix.length / rate - span) <= 0.04, `the recording is as long as the room's ticks span (${mix.length / rate} s, ${span} s)`);
    assert.ok(mix.subarray(from, from + len).every((x) => x === 0), `the ${len / 16} ms the room skipped are silence in the mix, at ${from / 16} ms`);
    const tones = (start: number): string => [440, 1000].map((hz) => toneAmplitude(mix, rate, hz, start, 6400).toFixed(3)).join(' and ');
    const [before, after] = [tones(from - 6400), tones(from + len)];
    assert.ok([...before.split(' and '), ...after.split(' and ')].every((x) => Number(x) > 0.05), `both tones in the 400 ms before the hole (${before}) and after it (${after})`);
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

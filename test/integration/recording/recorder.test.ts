// A Recorder fed synthetic ticks (leg A says 440 Hz, leg B 1000 Hz); the files are
// read by sox and checked as audio, and the sidecar is checked against them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs, { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { recordingIo } from '../../../src/recording/io/recording-io.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { channel, readWavFile, rms, soxInfo, soxStat, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-rec-'));
after(() => rmSync(root, { recursive: true, force: true }));

function service(sub: string, extra: Partial<ConstructorParameters<typeof RecordingService>[0]> = {}): RecordingService {
  return new RecordingService({ dir: join(root, sub), postProcess: 'none', log: silentLogger(), ...extra });
}

/** Amplitude of `hz` in [fromMs, toMs) of a mono signal. */
function amp(x: Int16Array, rate: number, hz: number, fromMs: number, toMs: number): number {
  const s = Math.round((fromMs * rate) / 1000);
  return toneAmplitude(x, rate, hz, s, Math.round((toMs * rate) / 1000) - s);
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('Recorder with sox', () => {
  for (const rate of [16000, 48000]) {
    it(`mix holds both parties, each stem one, stereo caller left / others right (${rate} Hz)`, async (t) => {
      const svc = service(`two-${rate}`);
      t.after(() => svc.close());
      const rec = svc.createRecorder({ roomId: 'room-1', sampleRate: rate });
      rec.addLeg('b', { uri: 'sip:bob@example.com', callId: 'cid-b', identity: 'normal' });
      rec.addLeg('a', { uri: 'sip:alice@example.com', callId: 'cid-a', role: 'caller', originalTo: 'sip:bob@example.com' });
      rec.addLeg('g', { uri: 'sip:rec@parley', identity: 'generated' });
      const room = new ToneRoom(rate);
      room.legs.set('a', 440).set('b', 1000).set('g', null);
      room.feed(rec, 3000);
      const closed = rec.waitFor('closed');
      rec.close();
      rec.close();
      const [meta] = await closed;
      const dir = join(root, `two-${rate}`);
      const file = (name: string): string => join(dir, name);

      const mixInfo = soxInfo(file(meta.mix.file));
      assert.deepEqual(mixInfo, { rate, channels: 1, seconds: 3 });
      assert.deepEqual(soxInfo(file(meta.stereo!.file)), { rate, channels: 2, seconds: 3 });
      assert.ok(Math.abs(soxStat(file(meta.mix.file)).seconds - 3) < 0.001);

      const mix = readWavFile(file(meta.mix.file)).samples;
      assert.ok(amp(mix, rate, 440, 0, 3000) > 0.2 && amp(mix, rate, 1000, 0, 3000) > 0.2, 'mix holds both');

      const leg = (id: string) => meta.legs.find((l) => l.id === id)!;
      const stemA = readWavFile(file(leg('a').stems[0].file)).samples;
      const stemB = readWavFile(file(leg('b').stems[0].file)).samples;
      assert.ok(amp(stemA, rate, 440, 0, 3000) > 0.2 && amp(stemA, rate, 1000, 0, 3000) < 0.005, 'stem a is a only');
      assert.ok(amp(stemB, rate, 1000, 0, 3000) > 0.2 && amp(stemB, rate, 440, 0, 3000) < 0.005, 'stem b is b only');
      assert.equal(rms(readWavFile(file(leg('g').stems[0].file)).samples), 0, 'a leg that sends nothing has a silent stem');

      const st = readWavFile(file(meta.stereo!.file));
      const left = channel(st.samples, 2, 0);
      const right = channel(st.samples, 2, 1);
      assert.equal(meta.stereo!.left, 'a');
      assert.ok(amp(left, rate, 440, 0, 3000) > 0.2 && amp(left, rate, 1000, 0, 3000) < 0.005, 'left is the caller');
      assert.ok(amp(right, rate, 1000, 0, 3000) > 0.2 && amp(right, rate, 440, 0, 3000) < 0.005, 'right is the others');

      assert.equal(meta.room, 'room-1');
      assert.deepEqual(meta.legs.map((l) => [l.id, l.uri, l.identity, l.callId]), [
        ['b', 'sip:bob@example.com', 'normal', 'cid-b'],
        ['a', 'sip:alice@example.com', 'normal', 'cid-a'],
        ['g', 'sip:rec@parley', 'generated', null],
      ]);
      assert.equal(leg('a').originalTo, 'sip:bob@example.com');
      const final = await rec.finalized;
      const onDisk = JSON.parse(readFileSync(file(`${rec.id}.json`), 'utf8')) as RecordingMetadata;
      assert.deepEqual(onDisk, final);
      assert.equal(final.state, 'finalized');
      for (const f of [final.mix, final.stereo!, ...final.legs.flatMap((l) => l.stems)]) {
        assert.equal(f.sha256, sha(file(f.file)), `sha256 of ${f.file}`);
      }
      svc.close();
    });
  }

  it('pause skips the timeline, mask keeps it with silence; both in the audio and in the sidecar', async (t) => {
    const rate = 16000;
    const svc = service('pause');
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'pm', sampleRate: rate });
    const room = new ToneRoom(rate);
    room.legs.set('a', 440);
    room.feed(rec, 1000);
    rec.pause('agent pressed pause');
    room.feed(rec, 1000);
    rec.resume();
    room.feed(rec, 1000);
    rec.markNotice('record-notice');
    rec.mask('card number');
    room.feed(rec, 1000);
    rec.unmask();
    room.feed(rec, 1000);
    rec.close();
    const meta = await rec.finalized;
    const mix = readWavFile(join(root, 'pause', meta.mix.file)).samples;
    assert.equal(soxInfo(join(root, 'pause', meta.mix.file)).seconds, 4, '1 s paused is skipped');
    assert.ok(amp(mix, rate, 440, 0, 1000) > 0.2);
    assert.ok(amp(mix, rate, 440, 1000, 2000) > 0.2);
    assert.equal(rms(mix, 2 * rate, rate), 0, 'masked second is silent');
    assert.ok(amp(mix, rate, 440, 3000, 4000) > 0.2);
    assert.deepEqual(meta.pauses.map((p) => [p.reason, p.start.roomMs, p.end?.roomMs, p.start.fileMs, p.end?.fileMs]), [
      ['agent pressed pause', 1000, 2000, 1000, 1000],
    ]);
    assert.deepEqual(meta.masks.map((m) => [m.reason, m.start.roomMs, m.end?.roomMs, m.start.fileMs, m.end?.fileMs]), [
      ['card number', 3000, 4000, 2000, 3000],
    ]);
    assert.deepEqual(meta.notices.map((n) => [n.prompt, n.roomMs, n.fileMs]), [['record-notice', 3000, 2000]]);
    svc.close();
  });

  it("pauseMode 'silence' keeps the timeline", async (t) => {
    const svc = service('pause-silence', { pauseMode: 'silence' });
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'ps', sampleRate: 16000 });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 1000);
    rec.pause();
    room.feed(rec, 1000);
    rec.resume();
    room.feed(rec, 1000);
    rec.close();
    const meta = await rec.finalized;
    const mix = readWavFile(join(root, 'pause-silence', meta.mix.file)).samples;
    assert.equal(mix.length, 48000);
    assert.equal(rms(mix, 16000, 16000), 0);
    assert.ok(amp(mix, 16000, 440, 2000, 3000) > 0.2);
    assert.equal(meta.pauseMode, 'silence');
    svc.close();
  });

  it('legs join and leave mid-recording: stems start at the join, a rejoin opens a new stem', async (t) => {
    const svc = service('joins');
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'j', sampleRate: 16000 });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 1000);
    room.legs.set('b', 1000); // implicit join: appears in the ticks
    room.feed(rec, 1000);
    rec.removeLeg('b');
    room.legs.delete('b');
    room.feed(rec, 500);
    rec.addLeg('b', { uri: 'sip:bob@x' });
    room.legs.set('b', 1000);
    room.feed(rec, 500);
    rec.close();
    const meta = await rec.finalized;
    const b = meta.legs.find((l) => l.id === 'b')!;
    assert.equal(b.uri, 'sip:bob@x');
    assert.deepEqual(b.joins.map((p) => p.roomMs), [1000, 2500]);
    assert.deepEqual(b.leaves.map((p) => p.roomMs), [2000]);
    assert.deepEqual(b.stems.map((s) => [s.start.roomMs, s.end?.roomMs, s.durationMs]), [
      [1000, 2000, 1000],
      [2500, 3000, 500],
    ]);
    for (const s of b.stems) {
      const x = readWavFile(join(root, 'joins', s.file)).samples;
      assert.ok(purityOf(x, 1000) > 0.99);
    }
    assert.equal(meta.durationMs, 3000);
    svc.close();
  });

  it("a leg that left keeps its stem while the ticks still carry its tail (its jitter buffer's audio), then it ends", async (t) => {
    const svc = service('tails');
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'tl', sampleRate: 16000 });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    rec.addLeg('a', { uri: 'sip:a@x', role: 'caller' });
    room.legs.set('b', 1000);
    rec.addLeg('b', { uri: 'sip:b@x' });
    room.feed(rec, 1000);
    // b leaves (its BYE, a SIPREC stream removed), while 600 ms of its audio were still buffered: the room plays them after.
    rec.removeLeg('b');
    room.feed(rec, 600);
    room.legs.delete('b');
    room.feed(rec, 400);
    // c leaves and comes back while its tail still plays: the tail's stem ends there, a new one starts.
    room.legs.set('c', 700);
    rec.addLeg('c', { uri: 'sip:c@x' });
    room.feed(rec, 200);
    rec.removeLeg('c');
    room.feed(rec, 100);
    rec.addLeg('c', { uri: 'sip:c@x' });
    room.feed(rec, 200);
    rec.close();
    const meta = await rec.finalized;
    const b = meta.legs.find((l) => l.id === 'b')!;
    assert.deepEqual(b.leaves.map((p) => p.roomMs), [1000], 'the leave is when it was signalled');
    assert.deepEqual(b.stems.map((s) => [s.start.fileMs, s.end?.roomMs, s.durationMs]), [[0, 1600, 1600]], 'the stem holds the tail');
    const x = readWavFile(join(root, 'tails', b.stems[0]!.file)).samples;
    assert.ok(purityOf(x.subarray(16000, 25600), 1000) > 0.99, "the tail is b's own audio");
    const c = meta.legs.find((l) => l.id === 'c')!;
    assert.deepEqual(c.stems.map((s) => [s.start.roomMs, s.end?.roomMs, s.durationMs]), [
      [2000, 2300, 300],
      [2300, 2500, 200],
    ]);
  });

  it("a leg removed from the recording but still in the ticks: its stem ends after the longest tail there can be", async (t) => {
    const svc = service('tail-cap');
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'tc', sampleRate: 16000 });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 500);
    rec.removeLeg('a');
    room.feed(rec, 3000);
    rec.close();
    const meta = await rec.finalized;
    const stems = meta.legs[0]!.stems;
    assert.equal(stems.length, 1, 'no implicit rejoin from the ticks');
    assert.equal(stems[0]!.end?.roomMs, 500 + 1600);
    assert.equal(stems[0]!.durationMs, 2100);
  });

  it('file names cannot escape the recordings folder', async (t) => {
    const svc = service('names');
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: '../../etc/evil room', sampleRate: 16000 });
    rec.addLeg('../../x/../y', {});
    new ToneRoom(16000).feed(rec, 100);
    rec.close();
    await rec.finalized;
    // `.parley/` holds the finalize marks' log.
    const files = readdirSync(join(root, 'names')).filter((f) => f !== '.parley');
    assert.equal(files.length, 4);
    assert.ok(files.every((f) => f.startsWith('___.._etc_evil_room-')), files.join());
    assert.deepEqual(readdirSync(root).sort(), readdirSync(root).filter((f) => !f.startsWith('etc')).sort());
    svc.close();
  });

  // What a tick costs is bench/recording.ts's figure (writeTickMeanUsPerRoom); here, what makes
  // it cheap and can be checked on any machine: a tick only buffers (no file call of any kind,
  // synchronous or batched for the I/O thread), and the flushes write every tick's bytes.
  it('writeTick only buffers: no file call during the ticks, and every tick reaches the files (3 legs, 48 kHz)', async (t) => {
    const svc = service('cost', { flushIntervalMs: 1000 });
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'cost', sampleRate: 48000 });
    const room = new ToneRoom(48000);
    room.legs.set('a', 440).set('b', 1000).set('c', 700);
    // Legs are announced by call control when they join (outside the tick): their stems are created then.
    for (const id of room.legs.keys()) rec.addLeg(id, { uri: `sip:${id}@example.com` });
    const ticks = Array.from({ length: 1500 }, () => room.next());
    const calls: string[] = [];
    const io = recordingIo() as unknown as Record<string, unknown>;
    const ioMethods = ['create', 'write', 'truncate', 'sync', 'sha256', 'close', 'writeAtomic', 'append', 'sizes'];
    const fsObject = fs as unknown as Record<string, unknown>;
    const syncNames = Object.keys(fsObject).filter((k) => k.endsWith('Sync') && typeof fsObject[k] === 'function');
    const spy = (obj: Record<string, unknown>, name: string, label: string): (() => void) => {
      const own = Object.hasOwn(obj, name);
      const original = obj[name] as (...a: unknown[]) => unknown;
      obj[name] = function (this: unknown, ...args: unknown[]) {
        calls.push(label);
        return original.apply(this, args);
      };
      return () => {
        if (own) obj[name] = original;
        else delete obj[name];
      };
    };
    const restore = [...ioMethods.map((m) => spy(io, m, `recording I/O ${m}`)), ...syncNames.map((m) => spy(fsObject, m, `fs.${m}`))];
    syncBuiltinESMExports();
    try {
      for (const tick of ticks) rec.writeTick(tick);
    } finally {
      for (const r of restore) r();
      syncBuiltinESMExports();
    }
    assert.deepEqual([...new Set(calls)], [], `file calls during 1500 ticks (${calls.length} in all)`);
    const closed = rec.waitFor('closed');
    rec.close();
    const [meta] = await closed;
    await rec.finalized;
    const dir = join(root, 'cost');
    const frameBytes = (48000 / 50) * 2; // one 20 ms mono frame of 16-bit samples
    const dataBytes = (file: string): number => statSync(join(dir, file)).size - 44;
    assert.equal(dataBytes(meta.mix.file), 1500 * frameBytes, 'the mix holds every tick');
    assert.equal(dataBytes(meta.stereo!.file), 1500 * 2 * frameBytes, 'the stereo file holds every tick');
    assert.equal(meta.legs.length, 3);
    for (const leg of meta.legs) assert.equal(dataBytes(leg.stems[0]!.file), 1500 * frameBytes, `stem ${leg.id} holds every tick`);
    assert.equal(meta.mix.durationMs, 30_000);
    const mix = readWavFile(join(dir, meta.mix.file)).samples;
    assert.ok(amp(mix, 48000, 440, 29_000, 30_000) > 0.1 && amp(mix, 48000, 1000, 29_000, 30_000) > 0.1, 'the last second is the room');
    svc.close();
  });
});

function purityOf(x: Int16Array, hz: number): number {
  const a = toneAmplitude(x, 16000, hz);
  const r = rms(x);
  return (a * a) / 2 / (r * r);
}

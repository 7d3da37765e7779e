// A WAV of a recording is created only once the sidecar that names it is on disk, so a
// kill -9 at any moment leaves no file its sidecar does not list. The window that mattered:
// a leg joins, its stem was created at once and the sidecar naming it written just after,
// and a kill between the two left a 44-byte stem beside a signed sidecar that never named it.
// Here the recording I/O thread's calls are watched (real thread, real files): each create
// is checked against the sidecar on disk at that moment, and the folder is copied as a kill
// would leave it just before and just after the sidecar naming a new leg lands; the next
// start's repair of each copy must list every WAV left on disk, and verify.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { recordingIo } from '../../../src/recording/io/recording-io.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { purity, readWavFile } from '../../helpers/audio-analysis.ts';
import { liveToneRecording, repairSigned, snapshotRecording } from '../../helpers/killed-recording.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-stemlisted-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Every WAV a sidecar names (lost ones too). */
const named = (m: RecordingMetadata): string[] => [m.mix.file, ...(m.stereo ? [m.stereo.file] : []), ...m.legs.flatMap((l) => l.stems.map((s) => s.file))];

/** The one recording's sidecar in `dir` as it is on disk now (null: none yet). */
function sidecarIn(dir: string): RecordingMetadata | null {
  const name = readdirSync(dir).find((f) => f.endsWith('.json'));
  return name ? (JSON.parse(readFileSync(join(dir, name), 'utf8')) as RecordingMetadata) : null;
}

describe('a recording names each WAV in its sidecar before creating it', () => {
  it('creates no WAV before the sidecar on disk lists it; audio appended meanwhile is in the file', async (t) => {
    const dir = join(root, 'order');
    const io = recordingIo();
    const create = io.create.bind(io);
    const created: string[] = [];
    const early: string[] = [];
    t.mock.method(io, 'create', (path: string) => {
      const name = basename(path);
      if (path.startsWith(dir) && name.endsWith('.wav')) {
        created.push(name);
        const m = existsSync(dir) ? sidecarIn(dir) : null;
        if (!m || !named(m).includes(name)) early.push(name);
      }
      return create(path);
    });
    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'order', sampleRate: 16000 });
    const room = new ToneRoom(16000);
    rec.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
    room.legs.set('a', 440);
    room.feed(rec, 300);
    rec.addLeg('b', { uri: 'sip:bob@example.com' });
    room.legs.set('b', 1000);
    room.feed(rec, 300);
    rec.removeLeg('b');
    room.legs.delete('b');
    room.feed(rec, 100);
    rec.addLeg('b', {});
    room.legs.set('b', 1000);
    room.feed(rec, 300);
    rec.close();
    const meta = await rec.finalized;
    assert.equal(meta.state, 'finalized');
    assert.equal(created.length, 5, `mix, stereo and three stems created: ${created.join(', ')}`);
    assert.deepEqual(early, [], 'each WAV was created after a sidecar naming it was on disk');
    const [a, b1, b2] = [meta.legs[0]!.stems[0]!, meta.legs[1]!.stems[0]!, meta.legs[1]!.stems[1]!];
    for (const [stem, hz, ms] of [[a, 440, 1000], [b1, 1000, 300], [b2, 1000, 300]] as const) {
      const w = readWavFile(join(dir, stem.file));
      // Every frame from the join on, the ones appended while the file waited for the sidecar included.
      assert.equal(w.samples.length, (ms * 16000) / 1000, `${stem.file}: ${ms} ms`);
      assert.ok(purity(w.samples, 16000, hz) > 0.99, `${stem.file}: the ${hz} Hz tone`);
      assert.equal(stem.durationMs, ms);
    }
  });

  it('a kill just before or just after the sidecar naming a new leg lands: the repair lists every WAV left and verifies', async (t) => {
    const live = join(root, 'live');
    const { svc, rec, room } = await liveToneRecording(live, 'window');
    t.after(() => svc.close());
    const io = recordingIo();
    const writeAtomic = io.writeAtomic.bind(io);
    let landed!: () => void;
    const done = new Promise<void>((r) => (landed = r));
    t.mock.method(io, 'writeAtomic', async (path: string, text: string, mode?: number, keepTemp?: boolean) => {
      const namesB = path === join(live, `${rec.id}.json`) && (JSON.parse(text) as RecordingMetadata).legs.some((l) => l.id === 'b');
      if (!namesB) return writeAtomic(path, text, mode, keepTemp);
      // Whatever the I/O thread was asked before this write has run once a later call is answered (one thread, in order).
      await io.sizes([]);
      snapshotRecording(live, join(root, 'before'));
      await writeAtomic(path, text, mode, keepTemp);
      snapshotRecording(live, join(root, 'after'));
      t.mock.restoreAll();
      landed();
    });
    rec.addLeg('b', { uri: 'sip:bob@example.com' });
    room.legs.set('b', 1000);
    room.feed(rec, 100);
    await done;
    rec.close();
    await rec.finalized;

    for (const [copy, bListed] of [['before', false], ['after', true]] as const) {
      const dir = join(root, copy);
      const { again, compliance, found } = await repairSigned(dir);
      try {
        assert.ok(found, `${copy}: the recording is repaired`);
        const fixed = sidecarIn(dir)!;
        assert.equal(fixed.state, 'finalized');
        assert.equal(fixed.interrupted, true);
        const wavs = readdirSync(dir).filter((f) => f.endsWith('.wav')).sort();
        const kept = [fixed.mix, fixed.stereo!, ...fixed.legs.flatMap((l) => l.stems)].filter((e) => e.lost === undefined);
        assert.deepEqual(kept.map((e) => e.file).sort(), wavs, `${copy}: every WAV on disk is listed, and only those`);
        assert.equal(fixed.legs.some((l) => l.id === 'b'), bListed, `${copy}: leg b in the sidecar`);
        if (bListed) {
          // Named before its file was created: the repair records it as missing, which verify accepts.
          const stemB = fixed.legs.find((l) => l.id === 'b')!.stems[0]!;
          assert.equal(stemB.lost, 'missing after an interruption');
          assert.equal(stemB.durationMs, 0);
        }
        const mix = readWavFile(join(dir, fixed.mix.file));
        assert.ok(mix.samples.length >= 600 * 16, `${copy}: ${mix.samples.length} samples of mix, at least the 600 ms on disk`);
        assert.ok(purity(mix.samples, 16000, 440, 0, 8000) > 0.99, `${copy}: the mix is leg a's tone`);
        const v = (await compliance.verify(found.id)).recording;
        assert.equal(v.ok, true, `${copy}: ${JSON.stringify(v.problems)}`);
      } finally {
        again.close();
        compliance.close();
      }
    }
  });
});

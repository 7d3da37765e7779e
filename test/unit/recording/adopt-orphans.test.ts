// A recording whose every sidecar write failed (a full disk from its start) still has its WAVs
// (and, encrypted, its key file): the Recorder creates them whether the sidecar naming them was
// written or not. A kill then leaves audio that no sidecar names; the next start adopts it: a
// sidecar made from the files (marked recoveredWithoutMetadata, what is not known in `errors`), the
// headers repaired, signed, and verify passes. Real recording I/O thread and real files; only the
// sidecar writes are made to fail (ENOSPC), as a full disk fails them. Never adopted: a recording of
// this process, files in a folder whose lock this process does not hold, an encrypted recording whose
// key does not unwrap (left untouched until a start with the right master key).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { ComplianceService } from '../../../src/recording/compliance/compliance-service.ts';
import { lockRecordingDir } from '../../../src/recording/dir-lock.ts';
import { decryptedWav } from '../../../src/recording/encryption/decrypt-reader.ts';
import { parseMasterKey } from '../../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../../src/recording/encryption/recording-encryption.ts';
import { recordingIo } from '../../../src/recording/io/recording-io.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import type { Recorder } from '../../../src/recording/recorder.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { channel, purity, readWavFile, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { waitFor } from '../../helpers/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-adopt-'));
after(() => rmSync(root, { recursive: true, force: true }));

const encryptionOf = (hex: string): RecordingEncryption => new RecordingEncryption(parseMasterKey(Buffer.from(hex), 'test'));
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
/** The amplitude ToneRoom gives each leg, as a share of full scale. */
const LEVEL = 0.25;

/**
 * A recording in `live` of leg a (caller, 440 Hz) and leg b (1000 Hz) whose sidecar writes all fail with
 * ENOSPC while it records, once 600 ms of every file are on disk. Then this process's own recovery (the
 * folder locked) must leave it alone. Returns once it is closed (its sidecar then written: no retry left).
 */
async function recordWithoutSidecar(t: TestContext, live: string, copyTo: string[], encryption: RecordingEncryption | null = null): Promise<Recorder> {
  const io = recordingIo();
  const writeAtomic = io.writeAtomic.bind(io);
  t.mock.method(io, 'writeAtomic', async (path: string, text: string, mode?: number, keepTemp?: boolean) => {
    if (path.startsWith(live) && path.endsWith('.json') && (JSON.parse(text) as RecordingMetadata).state === 'recording') {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC' });
    }
    return writeAtomic(path, text, mode, keepTemp);
  });
  const svc = new RecordingService({ dir: live, postProcess: 'none', encryption, log: silentLogger() });
  t.after(() => svc.close());
  const rec = svc.createRecorder({ roomId: 'adopt.room', sampleRate: 16000 });
  const room = new ToneRoom(16000);
  rec.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
  rec.addLeg('b', { uri: 'sip:bob@example.com' });
  room.legs.set('a', 440);
  room.legs.set('b', 1000);
  room.feed(rec, 600);
  const m = rec.metadata;
  // The 600 ms were fed before the files were created: their first pass writes them all (sealed: in one chunk).
  const header = encryption ? 32 + 28 : 44;
  const wavs = [[m.mix.file, 1], [m.stereo!.file, 2], ...m.legs.map((l) => [l.stems[0]!.file, 1] as const)] as const;
  await waitFor('600 ms of every file on disk', () => wavs.every(([f, ch]) => existsSync(join(live, f)) && statSync(join(live, f)).size >= header + 600 * 32 * ch));
  assert.equal(existsSync(join(live, `${rec.id}.json`)), false, 'no sidecar was written');
  // As a kill -9 now would leave the folder.
  for (const to of copyTo) {
    mkdirSync(to, { recursive: true });
    for (const f of readdirSync(live)) if (/\.(wav|key)$/.test(f)) copyFileSync(join(live, f), join(to, f));
  }
  // This process's own recording, in its locked folder: recovery never adopts it.
  const lock = await lockRecordingDir(live, join(live, '.parley'));
  assert.deepEqual(await svc.recoverInterrupted(), [], 'recovery leaves a recording of this process alone');
  assert.equal(existsSync(join(live, `${rec.id}.json`)), false, 'and writes no sidecar for it');
  await lock.release();
  t.mock.restoreAll();
  rec.close();
  await rec.finalized;
  return rec;
}

/** The next start in `dir`: its lock taken (as app.ts does), recovery, signing; closed by the test's end. */
async function nextStart(t: TestContext, dir: string, encryption: RecordingEncryption | null = null, locked = true): Promise<{ compliance: ComplianceService; found: string[] }> {
  const lock = locked ? await lockRecordingDir(dir, join(dir, '.parley')) : null;
  const svc = new RecordingService({ dir, postProcess: 'none', encryption, log: silentLogger() });
  const compliance = await ComplianceService.start({ dir, keyFile: null, auditLog: null, retention: { days: null, sweepIntervalSec: 0 }, log: silentLogger() });
  compliance.attach(svc);
  t.after(async () => (svc.close(), compliance.close(), await lock?.release()));
  const found = (await svc.recoverInterrupted()).map((r) => r.id);
  await compliance.settled();
  return { compliance, found };
}

function sidecarOf(dir: string, id: string): RecordingMetadata {
  return JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as RecordingMetadata;
}

/** The adopted sidecar says what the files say, and what it does not know. */
function checkAdoptedSidecar(m: RecordingMetadata, rec: Recorder): void {
  assert.equal(m.state, 'finalized');
  assert.equal(m.recoveredWithoutMetadata, true);
  assert.equal(m.interrupted, true);
  assert.equal(m.room, 'adopt.room');
  assert.equal(m.sampleRate, 16000);
  assert.equal(m.startedAt, new Date(Math.floor(Date.parse(rec.metadata.startedAt) / 1000) * 1000).toISOString(), 'the start, to the second, from the id');
  assert.deepEqual(m.legs.map((l) => [l.id, l.stems.map((s) => s.file)]), rec.metadata.legs.map((l) => [l.id, l.stems.map((s) => s.file)]), 'legs a and b with their stems');
  assert.deepEqual([m.mix.channels, m.stereo!.channels, ...m.legs.map((l) => l.stems[0]!.channels)], [1, 2, 1, 1]);
  assert.ok(m.errors.some((e) => e.startsWith('recovered without metadata')), JSON.stringify(m.errors));
  assert.ok(m.errors.some((e) => e.startsWith('not known:') && e.includes('notices')), 'what is not known is said');
  for (const e of [m.mix, m.stereo!, ...m.legs.map((l) => l.stems[0]!)]) {
    assert.equal(e.lost, undefined, `${e.file} kept`);
    assert.match(e.sha256 ?? '', /^[0-9a-f]{64}$/, `${e.file} hashed`);
    assert.ok(e.durationMs >= 600, `${e.file}: ${e.durationMs} ms, at least the 600 ms on disk`);
  }
}

/** Each file holds its tone at its level: the mix both legs, the stereo a left and b right, each stem its leg. */
function checkTones(pcm: (file: string) => Promise<{ samples: Int16Array; channels: number }>, m: RecordingMetadata): Promise<void>[] {
  const [a, b] = [m.legs.find((l) => l.id === 'a')!.stems[0]!, m.legs.find((l) => l.id === 'b')!.stems[0]!];
  const near = (x: number, what: string): void => assert.ok(Math.abs(x - LEVEL) < 0.1 * LEVEL, `${what}: amplitude ${x.toFixed(3)}, expected ${LEVEL}`);
  return [
    pcm(m.mix.file).then((w) => {
      near(toneAmplitude(w.samples, 16000, 440), 'mix at 440 Hz');
      near(toneAmplitude(w.samples, 16000, 1000), 'mix at 1000 Hz');
    }),
    pcm(m.stereo!.file).then((w) => {
      assert.equal(w.channels, 2);
      assert.ok(purity(channel(w.samples, 2, 0), 16000, 440) > 0.99, 'stereo left: leg a');
      assert.ok(purity(channel(w.samples, 2, 1), 16000, 1000) > 0.99, 'stereo right: leg b');
      near(toneAmplitude(channel(w.samples, 2, 0), 16000, 440), 'stereo left');
    }),
    ...([[a.file, 440], [b.file, 1000]] as const).map(([file, hz]) =>
      pcm(file).then((w) => {
        assert.ok(purity(w.samples, 16000, hz) > 0.99, `${file}: the ${hz} Hz tone`);
        near(toneAmplitude(w.samples, 16000, hz), file);
      }),
    ),
  ];
}

describe('recovery adopts the WAVs of a recording that no sidecar names', () => {
  it('a plain recording: sidecar made from the files, headers repaired, tones kept, verify passes', async (t) => {
    const live = join(root, 'plain-live');
    const [dir, unlocked] = [join(root, 'plain-killed'), join(root, 'plain-unlocked')];
    const rec = await recordWithoutSidecar(t, live, [dir, unlocked]);

    // Without the folder's lock another Parley may be writing them: left alone.
    const before = readdirSync(unlocked).map((f) => [f, sha(join(unlocked, f))]);
    const other = await nextStart(t, unlocked, null, false);
    assert.deepEqual(other.found, []);
    assert.deepEqual(readdirSync(unlocked).filter((f) => !f.startsWith('.')).map((f) => [f, sha(join(unlocked, f))]), before, 'nothing changed without the lock');

    // A SIPREC metadata version the recording wrote beside its audio (not a sidecar: it is written whatever the disk did to those).
    const version = `${rec.id}.metadata-1.xml`;
    writeFileSync(join(dir, version), '<recording xmlns="urn:ietf:params:xml:ns:recording:1"/>\n');
    const { compliance, found } = await nextStart(t, dir);
    assert.deepEqual(found, [rec.id], 'the recording is adopted and reported');
    const m = sidecarOf(dir, rec.id);
    checkAdoptedSidecar(m, rec);
    assert.ok(m.errors.some((e) => e.startsWith(`${version}: `) && e.includes('kept')), 'the SIPREC metadata version kept and said to be unlisted');
    assert.ok(existsSync(join(dir, version)));
    const listed = [m.mix, m.stereo!, ...m.legs.flatMap((l) => l.stems)].map((e) => e.file).sort();
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.wav')).sort(), listed, 'every WAV on disk is listed');
    for (const e of [m.mix, m.stereo!, ...m.legs.map((l) => l.stems[0]!)]) {
      const w = readWavFile(join(dir, e.file));
      assert.equal(w.headerDataBytes, statSync(join(dir, e.file)).size - 44, `${e.file}: the header claims exactly the data`);
      assert.equal(e.durationMs, Math.round((w.samples.length / e.channels / 16000) * 1000), `${e.file}: its duration is the audio's`);
    }
    await Promise.all(checkTones(async (f) => readWavFile(join(dir, f)), m));
    const v = (await compliance.verify(rec.id)).recording;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    assert.equal(v.signature, 'valid');
    // The index GET /recordings lists from.
    const listedByIndex = (await compliance.search({ limit: 10 })).entries.map((e) => [e.id, e.state]);
    assert.deepEqual(listedByIndex, [[rec.id, 'finalized']], 'the recordings index lists it');
  });

  it('an encrypted recording: left untouched under a wrong master key, adopted with the right one', async (t) => {
    const hex = randomBytes(32).toString('hex');
    const live = join(root, 'enc-live');
    const dir = join(root, 'enc-killed');
    const rec = await recordWithoutSidecar(t, live, [dir], encryptionOf(hex));
    assert.ok(existsSync(join(dir, `${rec.id}.key`)), 'its key file is there');

    const before = readdirSync(dir).map((f) => [f, sha(join(dir, f))]);
    const wrong = await nextStart(t, dir, encryptionOf(randomBytes(32).toString('hex')));
    assert.deepEqual(wrong.found, []);
    assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('.')).map((f) => [f, sha(join(dir, f))]), before, 'nothing changed under another master key');

    const right = encryptionOf(hex);
    const { compliance, found } = await nextStart(t, dir, right);
    assert.deepEqual(found, [rec.id]);
    const m = sidecarOf(dir, rec.id);
    checkAdoptedSidecar(m, rec);
    assert.deepEqual(m.encryption, { scheme: 'aes-256-gcm-chunked-v1', keyFile: `${rec.id}.key` });
    const key = await right.dataKey(dir, rec.id);
    const decrypt = async (file: string): Promise<{ samples: Int16Array; channels: number }> => {
      const path = join(dir, file);
      const size = (await stat(path)).size;
      const { stream } = await decryptedWav({ size, read: (start, end) => createReadStream(path, { start, end }) }, key, file);
      const parts: Buffer[] = [];
      for await (const c of stream) parts.push(c as Buffer);
      const wav = Buffer.concat(parts);
      const pcm = wav.subarray(44);
      return { samples: new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length)), channels: wav.readUInt16LE(22) };
    };
    await Promise.all(checkTones(decrypt, m));
    const v = (await compliance.verify(rec.id)).recording;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
  });
});

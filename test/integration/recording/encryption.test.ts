// Encryption at rest with a real RecordingService: files sealed in chunks under a
// per-recording data key, no plaintext PCM anywhere in the folder, decryption to
// WAV (tone measured), a wrong master key refused precisely with nothing
// changed, kill -9 mid-recording (a child process) decrypting up to the last
// flushed chunk and repaired at the next start, and key rotation that rewrites
// only the key files.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decryptChunks, decryptedWav, type ByteSource } from '../../../src/recording/encryption/decrypt-reader.ts';
import { KeyUnwrapError } from '../../../src/recording/encryption/key-file.ts';
import { parseMasterKey, type MasterKey } from '../../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../../src/recording/encryption/recording-encryption.ts';
import { rotateKeys } from '../../../src/recording/encryption/rotate-keys.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { channel, purity, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { recordThenKill9 } from '../../helpers/kill9-recorder.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

const root = mkdtempSync(join(tmpdir(), 'parley-enc-'));
after(() => rmSync(root, { recursive: true, force: true }));

const hexKey = (): string => randomBytes(32).toString('hex');
const master = (hex: string): MasterKey => parseMasterKey(Buffer.from(hex), 'test');

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function fileSource(path: string): Promise<ByteSource> {
  const size = (await stat(path)).size;
  return { size, read: (start, end) => createReadStream(path, { start, end }) };
}

async function decryptToPcm(path: string, key: Buffer): Promise<{ samples: Int16Array; channels: number; rate: number }> {
  const { stream } = await decryptedWav(await fileSource(path), key, path);
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  const wav = Buffer.concat(parts);
  assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
  const channels = wav.readUInt16LE(22);
  const rate = wav.readUInt32LE(24);
  assert.equal(wav.readUInt32LE(40), wav.length - 44, 'the header claims exactly the data');
  const pcm = wav.subarray(44);
  return { samples: new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length)), channels, rate };
}

/** Every file of `dir`, searched for 64-byte windows of `pcm` (the plaintext must be nowhere). */
function plaintextFound(dir: string, pcm: Int16Array): string[] {
  const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const hits: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const name = join(entry.parentPath ?? entry.path, entry.name);
    const data = readFileSync(name);
    for (let off = 3200; off + 64 <= bytes.length; off += Math.floor(bytes.length / 8)) {
      if (data.indexOf(bytes.subarray(off, off + 64)) >= 0) hits.push(`${name}@${off}`);
    }
  }
  return hits;
}

describe('encrypted recordings', () => {
  const keyA = hexKey();
  const dir = join(root, 'calls');

  it('are sealed on disk, decrypt to the tones, and hold no plaintext PCM', async (t) => {
    const enc = new RecordingEncryption(master(keyA));
    const svc = new RecordingService({ dir, postProcess: 'none', flushIntervalMs: 100, encryption: enc, log: silentLogger() });
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'enc-1', sampleRate: 16000 });
    rec.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
    rec.addLeg('b', { uri: 'sip:bob@example.com' });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440).set('b', 1000);
    room.feed(rec, 3000);
    rec.close();
    const meta = await rec.finalized;
    svc.close();
    assert.deepEqual(meta.encryption, { scheme: 'aes-256-gcm-chunked-v1', keyFile: `${rec.id}.key` });
    assert.equal(meta.mix.durationMs, 3000);
    const key = await enc.dataKey(dir, rec.id);
    const mixPath = join(dir, meta.mix.file);
    assert.equal(readFileSync(mixPath).toString('ascii', 0, 8), 'PRLYENC1');
    assert.equal(meta.mix.sha256, sha(mixPath), 'the sidecar hashes what is on disk (the ciphertext)');
    const mix = await decryptToPcm(mixPath, key);
    assert.equal(mix.rate, 16000);
    assert.equal(mix.samples.length, 48000);
    assert.ok(toneAmplitude(mix.samples, 16000, 440) > 0.2 && toneAmplitude(mix.samples, 16000, 1000) > 0.2, 'the mix holds both tones');
    const stereo = await decryptToPcm(join(dir, meta.stereo!.file), key);
    assert.equal(stereo.channels, 2);
    assert.ok(purity(channel(stereo.samples, 2, 0), 16000, 440) > 0.99, 'stereo left is the caller');
    const stem = await decryptToPcm(join(dir, meta.legs[1].stems[0].file), key);
    assert.ok(purity(stem.samples, 16000, 1000) > 0.99, 'the stem of b is b');
    assert.deepEqual(plaintextFound(dir, mix.samples), []);
    assert.deepEqual(plaintextFound(dir, stem.samples), []);
    // A flipped byte in the middle is refused, not played.
    const copy = join(root, 'tampered.wav');
    const data = readFileSync(mixPath);
    data[Math.floor(data.length / 2)] ^= 1;
    writeFileSync(copy, data);
    await assert.rejects(decryptToPcm(copy, key), /does not authenticate/);
  });

  it('a wrong master key is refused precisely, and nothing is changed', async () => {
    const other = new RecordingEncryption(master(hexKey()));
    const id = readdirSync(dir).find((n) => n.endsWith('.key'))!.slice(0, -4);
    await assert.rejects(other.dataKey(dir, id), (err: unknown) => {
      assert.ok(err instanceof KeyUnwrapError);
      assert.equal(err.reason, 'wrong_key');
      assert.match(err.message, new RegExp(`wrapped by master key ${master(keyA).id}, and the key given is ${other.master.id}`));
      return true;
    });
  });

  it('survive kill -9: every flushed chunk decrypts, the next start repairs the file', async (t) => {
    const kdir = join(root, 'kill9');
    const { files, killedAfter, signal } = await recordThenKill9(kdir, 3000, { TEST_MASTER_KEY: keyA });
    assert.equal(signal, 'SIGKILL');
    const mixName = files.find((f) => f.endsWith('.mix.wav'))!;
    const id = mixName.slice(0, -'.mix.wav'.length);
    const enc = new RecordingEncryption(master(keyA));
    const key = await enc.dataKey(kdir, id);
    // Before any repair: decrypt what is there, up to the last whole chunk.
    const parts: Buffer[] = [];
    const gen = decryptChunks(createReadStream(join(kdir, mixName)), key, mixName, true);
    let summary;
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        summary = r.value;
        break;
      }
      parts.push(r.value);
    }
    assert.equal(summary.complete, false, 'no trailer: the process was killed');
    const pcm = Buffer.concat(parts);
    const seconds = pcm.length / 2 / 16000;
    assert.ok(seconds >= killedAfter - 1, `${seconds} s decrypt, ${killedAfter} s elapsed`);
    const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
    assert.ok(purity(samples, 16000, 440) > 0.99, 'the flushed chunks are the tone');
    assert.deepEqual(plaintextFound(kdir, samples), []);
    // A wrong master key at start: the recording is left as it is.
    const before = sha(join(kdir, mixName));
    const wrong = new RecordingService({ dir: kdir, postProcess: 'none', encryption: new RecordingEncryption(master(hexKey())), log: silentLogger() });
    t.after(() => wrong.close());
    assert.deepEqual(await wrong.recoverInterrupted(), []);
    wrong.close();
    assert.equal(sha(join(kdir, mixName)), before, 'nothing touched without the right key');
    // The right one repairs it: the trailer appended, the sidecar finalized.
    const svc = new RecordingService({ dir: kdir, postProcess: 'none', encryption: enc, log: silentLogger() });
    t.after(() => svc.close());
    const [r] = await svc.recoverInterrupted();
    svc.close();
    assert.equal(r?.id, id);
    assert.equal(r.meta.state, 'finalized');
    assert.equal(r.meta.interrupted, true);
    const repaired = await decryptToPcm(join(kdir, mixName), key);
    assert.ok(Math.abs(repaired.samples.length / 16 - r.meta.mix.durationMs) <= 1, 'the sidecar duration is the decrypted length');
    assert.ok(repaired.samples.length >= samples.length - 16000 * 0.3);
  });

  it('rotation re-wraps only the key files; the audio and sidecars stay as they were', async () => {
    const keyB = hexKey();
    const names = readdirSync(dir).filter((n) => !n.endsWith('.key') && n !== '.parley');
    const before = new Map(names.map((n) => [n, sha(join(dir, n))]));
    const id = readdirSync(dir).find((n) => n.endsWith('.key'))!.slice(0, -4);
    const r = await rotateKeys(dir, master(keyB), [master(keyA)]);
    assert.deepEqual(r, { rotated: [id], current: [], failed: [], orphaned: [] });
    for (const n of names) assert.equal(sha(join(dir, n)), before.get(n), `${n} unchanged`);
    await assert.rejects(new RecordingEncryption(master(keyA)).dataKey(dir, id), /wrapped by master key/);
    const meta = JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as RecordingMetadata;
    const mix = await decryptToPcm(join(dir, meta.mix.file), await new RecordingEncryption(master(keyB)).dataKey(dir, id));
    assert.ok(toneAmplitude(mix.samples, 16000, 440) > 0.2);
    assert.deepEqual(await rotateKeys(dir, master(keyB), [master(keyA)]), { rotated: [], current: [id], failed: [], orphaned: [] }, 'idempotent');
    // Without the old key: said per recording, nothing rewritten.
    const r2 = await rotateKeys(dir, master(hexKey()), [master(keyA)]);
    assert.equal(r2.failed.length, 1);
    assert.match(r2.failed[0].error, /wrapped by master key/);
  });
});

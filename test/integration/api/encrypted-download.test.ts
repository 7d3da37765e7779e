// GET /recordings/:id/files/:file of an encrypted recording (a real Parley with
// recording.encryption): the answer is a WAV decrypted on the way (Content-Length
// from the trailer, the tone measured); a data key wrapped by another master key
// answers 409 naming both key ids; a file not yet repaired answers 409; the
// sidecar is served as it is.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyFileName, newKeyFile, readKeyFile, unwrapDataKey, writeKeyFile } from '../../../src/recording/encryption/key-file.ts';
import { parseMasterKey } from '../../../src/recording/encryption/master-key.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../../helpers/api-client.ts';
import { purity } from '../../helpers/audio-analysis.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';

describe('API downloads of encrypted recordings', () => {
  let parley: RunningParley;
  let base: string;
  const work = mkdtempSync(join(tmpdir(), 'parley-encapi-'));
  const keyPath = join(work, 'master.key');
  writeFileSync(keyPath, randomBytes(32).toString('hex'));
  let id = '';
  let meta: RecordingMetadata;

  before(async () => {
    parley = await startParley(apiYaml(join(work, 'rules.json')), { recording: { extra: `encryption: { enabled: true, masterKeyFile: ${keyPath} }` } });
    base = apiBase(parley);
    const rec = parley.app.recordings!.createRecorder({ roomId: 'api-enc', sampleRate: 16000 });
    rec.addLeg('a', { role: 'caller' });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 2000);
    rec.close();
    meta = await rec.finalized;
    id = rec.id;
  });
  after(() => parley.stop());

  const get = (file: string): Promise<Response> => fetch(`${base}/recordings/${id}/files/${file}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });

  it('serves the mix decrypted as a WAV', async () => {
    const res = await get(meta.mix.file);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    const wav = Buffer.from(await res.arrayBuffer());
    assert.equal(Number(res.headers.get('content-length')), wav.length);
    assert.equal(wav.length, 44 + 64000);
    assert.equal(wav.readUInt32LE(24), 16000);
    const pcm = wav.subarray(44);
    const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
    assert.ok(purity(samples, 16000, 440) > 0.99);
    const onDisk = readFileSync(join(parley.recordingDir, meta.mix.file));
    assert.equal(onDisk.toString('ascii', 0, 8), 'PRLYENC1', 'on disk it stays sealed');
    const side = await call(base, 'GET', `/recordings/${id}`);
    assert.deepEqual(side.body.encryption, meta.encryption);
    // A Range on a sealed file: decrypted from its start, so the whole WAV (200), and it says so.
    const ranged = await fetch(`${base}/recordings/${id}/files/${meta.mix.file}`, { headers: { authorization: `Bearer ${TEST_TOKEN}`, range: 'bytes=44-99' } });
    assert.equal(ranged.status, 200);
    assert.equal(ranged.headers.get('accept-ranges'), 'none');
    assert.equal((await ranged.arrayBuffer()).byteLength, 44 + 64000);
  });

  it('a data key wrapped by another master key: 409 naming both keys, the file untouched', async () => {
    const keyFile = join(parley.recordingDir, keyFileName(id));
    const original = readFileSync(keyFile);
    const mine = parseMasterKey(readFileSync(keyPath), 'mine');
    const other = parseMasterKey(randomBytes(32), 'other');
    const dataKey = unwrapDataKey([mine], await readKeyFile(keyFile, id));
    await writeKeyFile(keyFile, newKeyFile(other, id, dataKey));
    try {
      const res = await get(meta.mix.file);
      assert.equal(res.status, 409);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'key_wrong_key');
      assert.match(body.message, new RegExp(`wrapped by master key ${other.id}, and the key given is ${mine.id}`));
    } finally {
      writeFileSync(keyFile, original);
    }
    assert.equal((await get(meta.mix.file)).status, 200);
  });

  it('a file cut short and not repaired: 409, not a truncated WAV', async () => {
    const path = join(parley.recordingDir, meta.mix.file);
    const whole = readFileSync(path);
    writeFileSync(path, whole.subarray(0, whole.length - 36));
    try {
      const res = await get(meta.mix.file);
      assert.equal(res.status, 409);
      assert.match(((await res.json()) as { message: string }).message, /incomplete \(no trailer\)/);
    } finally {
      writeFileSync(path, whole);
    }
  });

  it('a byte flipped mid-file: 409 before the first byte, not a 200 cut off where the chunk fails', async () => {
    const path = join(parley.recordingDir, meta.mix.file);
    const whole = readFileSync(path);
    const bad = Buffer.from(whole);
    bad[bad.length >> 1] ^= 0xff;
    writeFileSync(path, bad);
    try {
      const res = await get(meta.mix.file);
      assert.equal(res.status, 409);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'altered');
      assert.match(body.message, new RegExp(`the sidecar says ${meta.mix.sha256}: the file on disk was altered`));
    } finally {
      writeFileSync(path, whole);
    }
    assert.equal((await get(meta.mix.file)).status, 200);
  });
});

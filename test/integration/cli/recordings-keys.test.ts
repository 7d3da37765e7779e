// `parley recordings decrypt` and `parley recordings rotate-key` as a user runs
// them, on an encrypted recording made by a real RecordingService: the WAV out
// holds the tone; rotation re-wraps the key (audio untouched) and the old key
// is then refused precisely; `recordings encode` refuses an encrypted recording.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseMasterKey } from '../../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../../src/recording/encryption/recording-encryption.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { purity, readWavFile } from '../../helpers/audio-analysis.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';

function parley(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('bin/parley', args, { encoding: 'utf8', timeout: 60_000 }, (e, out, err) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'parley-cli-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('parley recordings decrypt / rotate-key', () => {
  const oldKey = join(dir, 'old.key');
  const newKey = join(dir, 'new.key');
  writeFileSync(oldKey, randomBytes(32).toString('hex'));
  writeFileSync(newKey, randomBytes(32).toString('base64'));
  const recordings = join(dir, 'recordings');
  const config = (key: string): string => {
    const f = join(dir, `parley-${key.endsWith('old.key') ? 'old' : 'new'}.yaml`);
    writeFileSync(f, `recording: { dir: ${recordings}, encryption: { enabled: true, masterKeyFile: ${key} } }\n`);
    return f;
  };
  let id = '';
  let mix = '';
  let stereo = '';

  it('decrypts a file of a recording to a WAV with the tone', async () => {
    const svc = new RecordingService({ dir: recordings, postProcess: 'none', encryption: new RecordingEncryption(parseMasterKey(readFileSync(oldKey), 'old')), log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'cli', sampleRate: 16000 });
    rec.addLeg('a', { role: 'caller' });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 2000);
    rec.close();
    const meta = await rec.finalized;
    svc.close();
    id = rec.id;
    mix = meta.mix.file;
    stereo = meta.stereo!.file;
    const out = join(dir, 'out.wav');
    const r = await parley(['recordings', 'decrypt', id, mix, '--out', out, '--config', config(oldKey)]);
    assert.equal(r.code, 0, r.err);
    const w = readWavFile(out);
    assert.equal(w.samples.length, 32000);
    assert.ok(purity(w.samples, 16000, 440) > 0.99);
    const e = await parley(['recordings', 'encode', id, '--format', 'ogg', '--config', config(oldKey)]);
    assert.notEqual(e.code, 0);
    assert.match(e.err, /is encrypted at rest: encoding it would leave its audio in plaintext/);
  });

  it('a file that stops authenticating mid-way: exit 1 and nothing left at --out (nor its .part)', async () => {
    const path = join(recordings, stereo);
    const b = readFileSync(path);
    const original = Buffer.from(b);
    b[b.length >> 1] ^= 0xff;
    writeFileSync(path, b);
    try {
      const out = join(dir, 'tampered.wav');
      const r = await parley(['recordings', 'decrypt', id, stereo, '--out', out, '--config', config(oldKey)]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /does not authenticate/);
      assert.equal(existsSync(out), false, 'no WAV cut short at --out');
      assert.equal(existsSync(`${out}.part`), false);
    } finally {
      writeFileSync(path, original);
    }
  });

  it('rotate-key re-wraps with the configured key; the old one is then refused by name', async () => {
    const before = sha(join(recordings, mix));
    const cfg = config(newKey);
    const r = await parley(['recordings', 'rotate-key', '--old-key-file', oldKey, '--config', cfg]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^1 data keys re-wrapped from master key [0-9a-f]{16} to [0-9a-f]{16}, 0 already under it, 0 failed/);
    assert.equal(sha(join(recordings, mix)), before, 'the audio is not rewritten');
    const out = join(dir, 'out2.wav');
    assert.equal((await parley(['recordings', 'decrypt', id, mix, '--out', out, '--config', cfg])).code, 0);
    assert.ok(purity(readWavFile(out).samples, 16000, 440) > 0.99);
    const old = await parley(['recordings', 'decrypt', id, mix, '--out', join(dir, 'x.wav'), '--config', config(oldKey)]);
    assert.notEqual(old.code, 0);
    assert.match(old.err, /its data key is wrapped by master key [0-9a-f]{16}, and the key given is [0-9a-f]{16}/);
  });
});

// An encrypted recording on a disk that fills up (a real 2 MB tmpfs): writes fail
// and are reported once per file, nothing on disk is torn past repair (a chunk
// that failed is rewritten as it was sealed, never resealed with other audio),
// and when space returns the recording goes on: the closed file decrypts whole,
// strictly, with the call's full timeline and the tone throughout.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FRAME_MS } from '../../../src/mixer/frames.ts';
import { decryptChunks } from '../../../src/recording/encryption/decrypt-reader.ts';
import { parseMasterKey } from '../../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../../src/recording/encryption/recording-encryption.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { purity } from '../../helpers/audio-analysis.ts';
import { realTimeFeeder, ToneRoom } from '../../helpers/mix-ticks.ts';
import { fillUp, mountSmallDisk, unfill, type SmallDisk } from '../../helpers/small-disk.ts';
import { waitFor } from '../../helpers/wait.ts';

const RATE = 48000;
let disk: SmallDisk | null = null;
before(() => {
  disk = mountSmallDisk('2m');
});
after(() => disk?.unmount());

describe('encrypted recording on a full disk', () => {
  it('reports, resumes, and the closed file decrypts whole with the full timeline', async (t) => {
    if (!disk) return t.skip('needs root to mount a tmpfs');
    const dir = disk.dir;
    const enc = new RecordingEncryption(parseMasterKey(randomBytes(32), 'test'));
    const svc = new RecordingService({ dir, postProcess: 'none', flushIntervalMs: 100, minFreeBytes: 0, encryption: enc, log: silentLogger() });
    t.after(() => svc.close());
    const failures: string[] = [];
    const resumed: string[] = [];
    svc.on('writeError', (_r, f) => failures.push(f.file));
    svc.on('writeResumed', (_r, f) => resumed.push(f));
    const rec = svc.createRecorder({ roomId: 'full-enc', sampleRate: RATE, stems: false });
    rec.addLeg('a', { role: 'caller' });
    const room = new ToneRoom(RATE);
    room.legs.set('a', 440);
    const feed = realTimeFeeder(rec, room);
    t.after(() => feed.stop());
    await waitFor('a second recorded', () => feed.ticks() >= 50);
    fillUp(join(dir, 'filler.bin'));
    await waitFor('write failures reported', () => failures.length >= 2, 5000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(failures.length, new Set(failures).size, `one report per file: ${failures.join(', ')}`);
    unfill(join(dir, 'filler.bin'));
    await waitFor('writes resumed', () => failures.every((f) => resumed.includes(f)), 5000);
    const until = feed.ticks() + 50;
    await waitFor('another second recorded', () => feed.ticks() >= until);
    feed.stop();
    const ticks = feed.ticks();
    rec.close();
    const meta = await rec.finalized;
    svc.close();
    const key = await enc.dataKey(dir, rec.id);
    for (const [file, channels] of [[meta.mix.file, 1], [meta.stereo!.file, 2]] as const) {
      const parts: Buffer[] = [];
      for await (const p of decryptChunks(createReadStream(join(dir, file)), key, file, false)) parts.push(p);
      const pcm = Buffer.concat(parts);
      const frames = pcm.length / 2 / channels;
      assert.equal(frames, (ticks * FRAME_MS * RATE) / 1000, `${file}: the whole timeline (${ticks} ticks), nothing lost or doubled`);
      if (channels === 1) {
        const s = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
        assert.ok(purity(s, RATE, 440) > 0.99, 'the tone throughout: no garbage from a torn chunk');
      }
    }
    assert.equal(meta.mix.durationMs, ticks * FRAME_MS);
  });
});

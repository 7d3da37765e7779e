// The next start's repair of a recording whose folder holds stems its sidecar does not name:
// what a kill -9 left when a Parley older than Stems.openWhenListed created a leg's stem just
// before the sidecar naming it (or today, when that sidecar's write failed on a full disk).
// A stem with no audio (a bare header) is removed; one with audio is kept untouched; both are
// said in the sidecar's errors, and the signed, finalized recording verifies.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { wavHeader } from '../../../src/recording/wav-disk-file.ts';
import { purity, readWavFile } from '../../helpers/audio-analysis.ts';
import { liveToneRecording, repairSigned, snapshotRecording } from '../../helpers/killed-recording.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-unnamed-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** `ms` of a `hz` tone at 16 kHz, as a WAV. */
function toneWav(hz: number, ms: number): Buffer {
  const n = (ms * 16000) / 1000;
  const pcm = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 16000)), 2 * i);
  return Buffer.concat([wavHeader(pcm.length, 16000, 1), pcm]);
}

describe('recovery of stems the sidecar does not name', () => {
  it('removes an empty one, keeps one with audio, says both, and the recording verifies', async (t) => {
    const live = join(root, 'live');
    const { svc, rec } = await liveToneRecording(live, 'unnamed');
    t.after(() => svc.close());
    // The folder as a kill -9 now leaves it, with the two stems an older Parley could leave beside it.
    const dir = join(root, 'killed');
    snapshotRecording(live, dir);
    rec.close();
    await rec.finalized;
    const empty = `${rec.id}.leg2-b.wav`;
    const withAudio = `${rec.id}.leg3-c.wav`;
    writeFileSync(join(dir, empty), wavHeader(0, 16000, 1));
    writeFileSync(join(dir, withAudio), toneWav(1000, 300));
    const kept = readFileSync(join(dir, withAudio));

    const { again, compliance, found } = await repairSigned(dir);
    t.after(() => (again.close(), compliance.close()));
    assert.ok(found, 'the recording is repaired');
    const fixed = JSON.parse(readFileSync(join(dir, `${rec.id}.json`), 'utf8')) as RecordingMetadata;
    assert.equal(fixed.state, 'finalized');
    assert.equal(existsSync(join(dir, empty)), false, 'the stem with no audio is removed');
    assert.ok(readFileSync(join(dir, withAudio)).equals(kept), 'the stem with audio is left as it was');
    assert.ok(purity(readWavFile(join(dir, withAudio)).samples, 16000, 1000) > 0.99, 'its tone is still there');
    assert.ok(fixed.errors.some((e) => e.startsWith(`${empty}:`) && e.includes('removed')), `the removal is in the sidecar: ${JSON.stringify(fixed.errors)}`);
    assert.ok(fixed.errors.some((e) => e.startsWith(`${withAudio}:`) && e.includes('kept')), 'the kept stem is in the sidecar');
    const listed = [fixed.mix, fixed.stereo!, ...fixed.legs.flatMap((l) => l.stems)].map((e) => e.file);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.wav') && !listed.includes(f)), [withAudio], 'no other WAV the sidecar does not name');
    assert.ok(purity(readWavFile(join(dir, fixed.mix.file)).samples, 16000, 440) > 0.99, "the mix is leg a's tone");
    const v = (await compliance.verify(found.id)).recording;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
  });
});

// openRecordingFile on a real temp folder: a recording.dir reached through a
// symlink still serves its regular files; links in the folder, loops, missing
// folders and names that are not plain file names are told apart (forbidden vs
// not found) and never opened.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openRecordingFile, readRecordingText, RecordingFileError } from '../../../src/api/recording-file.ts';

const kind = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'opened',
    (err: unknown) => (err instanceof RecordingFileError ? err.kind : `other: ${(err as Error).message}`),
  );

describe('openRecordingFile', () => {
  const top = mkdtempSync(join(tmpdir(), 'parley-recfile-'));
  const real = join(top, 'real');
  mkdirSync(real);
  writeFileSync(join(real, 'a.wav'), 'RIFFdata');
  symlinkSync(real, join(top, 'via-link'));
  symlinkSync('loop-b', join(real, 'loop-a'));
  symlinkSync('loop-a', join(real, 'loop-b'));
  symlinkSync('a.wav', join(real, 'alias.wav'));
  mkdirSync(join(real, 'sub.wav'));

  it('opens a regular file, also when recording.dir itself is a symlink', async () => {
    for (const dir of [real, join(top, 'via-link')]) {
      const { handle, size } = await openRecordingFile(dir, 'a.wav');
      assert.equal(size, 8);
      await handle.close();
      assert.equal(await readRecordingText(dir, 'a.wav'), 'RIFFdata');
    }
  });

  it('refuses links, loops, directories and names that are not plain file names', async () => {
    assert.equal(await kind(openRecordingFile(real, 'alias.wav')), 'forbidden');
    assert.equal(await kind(openRecordingFile(real, 'loop-a')), 'forbidden');
    assert.equal(await kind(openRecordingFile(real, 'sub.wav')), 'forbidden');
    for (const name of ['../real/a.wav', 'x/../a.wav', '..', '.hidden', '', '/etc/passwd']) {
      assert.equal(await kind(openRecordingFile(real, name)), 'forbidden', name);
    }
  });

  it('tells a missing file or folder apart (not found)', async () => {
    assert.equal(await kind(openRecordingFile(real, 'nope.wav')), 'not_found');
    assert.equal(await kind(openRecordingFile(join(top, 'missing'), 'a.wav')), 'not_found');
  });
});

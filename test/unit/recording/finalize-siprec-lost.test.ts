// finalizeRecording (src/recording/finalize-recording.ts) and a SIPREC metadata version
// that is not on disk at finalization (its write failed, or a crash came first).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { finalizeRecording } from '../../../src/recording/finalize-recording.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-finalize-lost-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('finalizeRecording: SIPREC metadata versions', () => {
  it('a lost version says why in its problem (and in the problems), one on disk keeps problem null', async () => {
    writeFileSync(join(dir, 'r.metadata-1.xml'), '<recording xmlns="urn:ietf:params:xml:ns:recording:1"/>');
    const version = (file: string) => ({ file, at: '', method: 'INVITE', bytes: 10, problem: null, dialect: null, dataMode: null });
    const meta = {
      siprec: { metadataVersions: [version('r.metadata-1.xml'), version('r.metadata-2.xml')], problems: [] },
      postProcessing: { format: 'none' },
      mix: null,
      legs: [],
    } as unknown as RecordingMetadata;
    await finalizeRecording({ id: 'r', meta, files: [], closed: [], pathOf: (f) => join(dir, f), postProcessor: undefined, save: async () => true, onProgress: () => undefined });
    const [kept, lost] = meta.siprec!.metadataVersions;
    assert.match(kept!.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(kept!.problem, null, 'a version on disk has no problem');
    assert.equal(lost!.sha256, null);
    assert.match(lost!.lost ?? '', /not on disk/);
    assert.ok(lost!.problem !== null && lost!.problem.includes(lost!.lost!), `the lost version's problem says why: ${String(lost!.problem)}`);
    assert.ok(meta.siprec!.problems.some((p) => p.includes('r.metadata-2.xml') && p.includes('not on disk')), JSON.stringify(meta.siprec!.problems));
  });
});

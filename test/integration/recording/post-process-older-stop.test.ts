// Recordings whose post-processing a stop cut short under an older Parley (before
// post-processing resume): it wrote postProcessing 'failed' with the stop's error and
// removed the finalize mark, so the next start skipped them. The fixture was written by
// that Parley's own RecordingService (commit 2376bff^; how: the fixture's README.md):
// - A: its mix encoded, the stem's ffmpeg killed by the stop ('ffmpeg failed: ffmpeg was
//   killed with signal SIGKILL');
// - B: its mix queued, dropped by the stop ('post-processor closed');
// - C: a real encoder failure (its mix was no WAV any more when ffmpeg read it).
// Now A and B are resumed at start by real ffmpeg (the encoded mix of A kept), reported,
// and not touched again; C stays 'failed', byte for byte.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { FinalizeMarks } from '../../../src/recording/finalize-marks.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { sha256File } from '../../../src/util/sha256-file.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { decodeWithFfmpeg, dominantTone, ffprobeSeconds } from '../../helpers/recorded-calls.ts';

const FIXTURE = resolve('test/fixtures/recordings-before-resume');
const root = mkdtempSync(join(tmpdir(), 'parley-old-stop-'));
after(() => rmSync(root, { recursive: true, force: true }));

const idOf = (prefix: string): string => readdirSync(FIXTURE).find((f) => f.startsWith(prefix) && f.endsWith('.json'))!.slice(0, -'.json'.length);
const A = idOf('old-stop-killed-');
const B = idOf('old-stop-queued-');
const C = idOf('old-real-failure-');
const TONES = [440, 650];

function sidecar(dir: string, id: string): RecordingMetadata {
  return JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as RecordingMetadata;
}

describe("post-processing an older Parley's stop left 'failed'", () => {
  it('the fixture is what that Parley wrote', () => {
    const [a, b, c] = [A, B, C].map((id) => sidecar(FIXTURE, id));
    assert.deepEqual([a!.state, b!.state, c!.state], ['finalized', 'finalized', 'finalized']);
    assert.deepEqual(a!.postProcessing, { format: 'ogg', state: 'failed', error: 'ffmpeg failed: ffmpeg was killed with signal SIGKILL' });
    assert.deepEqual(a!.postProcessed.map((p) => p.source), [a!.mix.file], 'the mix was encoded before the stop');
    assert.deepEqual(b!.postProcessing, { format: 'ogg', state: 'failed', error: 'post-processor closed' });
    assert.equal(c!.postProcessing.state, 'failed');
    assert.match(c!.postProcessing.error!, /^ffmpeg failed: ffmpeg exited with code \d+/);
    assert.ok(!existsSync(join(FIXTURE, '.finalizing')), 'no finalize mark left');
  });

  it('is resumed at start by real ffmpeg and reported; a real encoder failure stays failed', async (t) => {
    const dir = join(root, 'resume');
    cpSync(FIXTURE, dir, { recursive: true, filter: (f) => !/\.(md|txt)$/.test(f) });
    const cBefore = readFileSync(join(dir, `${C}.json`));
    const a0 = sidecar(dir, A);
    const capture = captureLog();
    const svc = new RecordingService({ dir, postProcess: 'ogg', log: capture.log });
    t.after(() => svc.close());
    const recovered: string[] = [];
    svc.on('recovered', (r) => recovered.push(r.id));
    const found = await svc.recoverInterrupted();
    assert.deepEqual(found.map((r) => r.id).sort(), [A, B].sort(), 'A and B resumed, C left alone');
    assert.deepEqual(recovered.sort(), [A, B].sort(), 'reported (recording.saved) again');
    const why = capture.find(/an older Parley's stop cut short/).map((l) => [l.recording, l.error]);
    assert.deepEqual(why.sort(), [[A, a0.postProcessing.error], [B, 'post-processor closed']].sort());

    for (const [id, hz] of [[A, 440], [B, 650]] as const) {
      const m = sidecar(dir, id);
      assert.deepEqual(m.postProcessing, { format: 'ogg', state: 'done', error: null }, id);
      const sources = [m.mix, ...m.legs.flatMap((l) => l.stems)].filter((e) => e.durationMs > 0);
      assert.deepEqual(m.postProcessed.map((p) => p.source).sort(), sources.map((e) => e.file).sort(), `${id}: every file encoded once`);
      const files = found.find((r) => r.id === id)!.files;
      for (const p of m.postProcessed) {
        const path = join(dir, p.file);
        assert.ok(files.includes(p.file), `${p.file} among the recording's files`);
        assert.equal(await sha256File(path), p.sha256, `${p.file}: its sha256 in the sidecar`);
        const src = sources.find((e) => e.file === p.source)!;
        assert.ok(Math.abs(ffprobeSeconds(path) * 1000 - src.durationMs) <= 100, `${p.file}: ${ffprobeSeconds(path)} s of a ${src.durationMs} ms WAV`);
        // Audio checked as audio: the tone the recording holds.
        const tone = dominantTone(decodeWithFfmpeg(path), 16000, TONES);
        assert.equal(tone.hz, hz, `${p.file}: ${tone.hz} Hz`);
        assert.ok(tone.share > 0.5, `${p.file}: ${hz} Hz is ${tone.share.toFixed(2)} of it`);
      }
    }
    // A's mix, encoded before the stop, is kept as it was (not encoded again).
    const a = sidecar(dir, A);
    assert.deepEqual(a.postProcessed.find((p) => p.source === a.mix.file), a0.postProcessed[0]);

    assert.ok(readFileSync(join(dir, `${C}.json`)).equals(cBefore), "C's sidecar is untouched");
    assert.ok(!readdirSync(dir).some((f) => f.startsWith(C) && !f.endsWith('.wav') && !f.endsWith('.json')), 'nothing encoded for C');
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.part')), 'no temp output left');
    assert.ok(!existsSync(join(dir, '.finalizing')), 'the marks are gone once reported');
    assert.deepEqual(await new FinalizeMarks(dir).list(), [], 'no mark open in the log');
    svc.close();

    // Done: the next start has nothing to do.
    const again = new RecordingService({ dir, postProcess: 'ogg', log: capture.log });
    t.after(() => again.close());
    assert.deepEqual(await again.recoverInterrupted(), []);
    again.close();
  });

  it('with a stop during the resumed encoding, the next start resumes it again', async (t) => {
    const dir = join(root, 'stopped-again');
    cpSync(FIXTURE, dir, { recursive: true, filter: (f) => !/\.(md|txt)$/.test(f) });
    const first = new RecordingService({ dir, postProcess: 'ogg', postProcessReadRate: 1, log: captureLog().log });
    t.after(() => first.close());
    // The stop comes while ffmpeg encodes (at real time: a second per file).
    first.postProcessor.once('progress', () => first.close());
    await first.recoverInterrupted();
    first.close();
    const cut = [A, B].map((id) => sidecar(dir, id).postProcessing.state);
    assert.ok(cut.includes('pending'), `a stop during the resumed encoding leaves it pending: ${cut.join(', ')}`);
    const pending = [A, B].filter((id) => sidecar(dir, id).postProcessing.state === 'pending');
    assert.deepEqual((await new FinalizeMarks(dir).list()).filter((id) => pending.includes(id)).sort(), pending.sort(), 'their marks stay open in the log');

    const second = new RecordingService({ dir, postProcess: 'ogg', log: captureLog().log });
    t.after(() => second.close());
    await second.recoverInterrupted();
    second.close();
    for (const id of [A, B]) assert.equal(sidecar(dir, id).postProcessing.state, 'done', `${id} resumed by the next start`);
    assert.ok(!existsSync(join(dir, '.finalizing')));
    assert.deepEqual(await new FinalizeMarks(dir).list(), []);
  });
});

// After close, recordings are encoded to Ogg/Opus or MP3 by real ffmpeg, one at a
// time, with progress; the results land in the sidecar.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import type { PostProgress } from '../../../src/recording/post-processor.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-post-'));
after(() => rmSync(root, { recursive: true, force: true }));

function ffprobeSeconds(path: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', path], {
    encoding: 'utf8',
  });
  return Number((JSON.parse(out) as { format: { duration: string } }).format.duration);
}

function codec(path: string): string {
  return execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', path], {
    encoding: 'utf8',
  }).trim();
}

describe('post-processing with real ffmpeg', () => {
  for (const [format, wantCodec] of [
    ['ogg', 'opus'],
    ['mp3', 'mp3'],
  ] as const) {
    it(`encodes every file of a closed recording to ${format}, with progress, into the sidecar`, async (t) => {
      const dir = join(root, format);
      const svc = new RecordingService({ dir, postProcess: format, log: silentLogger() });
      t.after(() => svc.close());
      const rec = svc.createRecorder({ roomId: `post-${format}`, sampleRate: 16000 });
      const room = new ToneRoom(16000);
      room.legs.set('a', 440).set('b', 1000);
      room.feed(rec, 60_000); // long enough for ffmpeg to report progress mid-way (-stats_period 0.1)
      const progress: PostProgress[] = [];
      rec.on('postProgress', (p) => progress.push(p));
      let closedSeen = false;
      rec.on('closed', () => (closedSeen = true));
      rec.close();
      const meta = await rec.finalized;
      assert.ok(closedSeen, "'closed' comes before 'finalized'");
      assert.equal(meta.postProcessing.state, 'done');
      assert.equal(meta.postProcessed.length, 4, 'mix, stereo and two stems');
      for (const p of meta.postProcessed) {
        const out = join(dir, p.file);
        assert.equal(codec(out), wantCodec);
        const seconds = ffprobeSeconds(out);
        assert.ok(Math.abs(seconds - 60) < 0.1, `${p.file}: ${seconds} s`);
        assert.equal(p.format, format);
      }
      const mixProgress = progress.filter((p) => p.input.endsWith('.mix.wav')).map((p) => p.percent);
      assert.ok(mixProgress.length >= 2, `progress events: ${mixProgress.join(',')}`);
      assert.ok(mixProgress.some((p) => p > 0 && p < 100), `an intermediate percentage from ffmpeg: ${mixProgress.join(',')}`);
      assert.deepEqual([...mixProgress].sort((a, b) => a - b), mixProgress, 'progress only goes up');
      assert.equal(mixProgress.at(-1), 100);
      const onDisk = JSON.parse(readFileSync(join(dir, `${rec.id}.json`), 'utf8')) as RecordingMetadata;
      assert.deepEqual(onDisk.postProcessed, meta.postProcessed);
      svc.close();
    });
  }

  it('runs one ffmpeg at a time, and close() drops what is queued', async (t) => {
    const dir = join(root, 'queue');
    const svc = new RecordingService({ dir, postProcess: 'ogg', log: silentLogger() });
    t.after(() => svc.close());
    let running = 0;
    let maxRunning = 0;
    const seen = new Set<string>();
    svc.postProcessor.on('progress', (p) => {
      if (!seen.has(p.input)) {
        seen.add(p.input);
        running++;
        maxRunning = Math.max(maxRunning, running);
      }
      if (p.percent === 100) running--;
    });
    const recs = [1, 2, 3].map((i) => {
      const r = svc.createRecorder({ roomId: `q${i}`, sampleRate: 16000 });
      const room = new ToneRoom(16000);
      room.legs.set('a', 300 + i * 100);
      room.feed(r, 5000);
      r.close();
      return r;
    });
    const metas = await Promise.all(recs.map((r) => r.finalized));
    assert.equal(maxRunning, 1);
    assert.ok(metas.every((m) => m.postProcessing.state === 'done'));

    const late = svc.createRecorder({ roomId: 'late', sampleRate: 16000 });
    new ToneRoom(16000).feed(late, 1000);
    late.close();
    svc.close();
    const m = await late.finalized;
    // Dropped by the stop, not failed: the next start resumes it (test/e2e/postprocess-resume.test.ts).
    assert.equal(m.postProcessing.state, 'pending');
    assert.match(m.postProcessing.error ?? '', /^interrupted: /);
    assert.equal(m.state, 'finalized');
  });

  it('a resumed encoding that ffmpeg cannot do ends failed, its mark gone: not retried at every start', async (t) => {
    const dir = join(root, 'resume-fails');
    const first = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    t.after(() => first.close());
    const rec = first.createRecorder({ roomId: 'broken', sampleRate: 16000 });
    new ToneRoom(16000).feed(rec, 2000);
    rec.close();
    const done = await rec.finalized;
    first.close();
    // As a stop leaves it: finalized, its encoding pending, its mark kept; the mix is not audio any more.
    const sidecar = join(dir, `${rec.id}.json`);
    writeFileSync(sidecar, JSON.stringify({ ...done, postProcessing: { format: 'ogg', state: 'pending', error: 'interrupted: x' } }));
    mkdirSync(join(dir, '.finalizing'), { recursive: true });
    writeFileSync(join(dir, '.finalizing', rec.id), '');
    writeFileSync(join(dir, done.mix.file), Buffer.alloc(50_000, 0x5a));

    const second = new RecordingService({ dir, postProcess: 'ogg', log: silentLogger() });
    t.after(() => second.close());
    const found = await second.recoverInterrupted();
    assert.deepEqual(found.map((r) => r.id), [rec.id], 'the pending encoding was resumed');
    const after = JSON.parse(readFileSync(sidecar, 'utf8')) as RecordingMetadata;
    assert.equal(after.postProcessing.state, 'failed');
    assert.ok(after.postProcessing.error && !after.postProcessing.error.startsWith('interrupted'), after.postProcessing.error ?? '');
    assert.ok(!existsSync(join(dir, '.finalizing', rec.id)), 'its mark is gone');
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.part')), 'no temp output left');
    second.close();

    const third = new RecordingService({ dir, postProcess: 'ogg', log: silentLogger() });
    t.after(() => third.close());
    assert.deepEqual(await third.recoverInterrupted(), [], 'not tried again');
    third.close();
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { LOG_EVERY_MS, MAX_LISTED, TimelineGaps } from '../../../src/recording/timeline-gaps.ts';
import { readWavFile, rms } from '../../helpers/audio-analysis.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-gaps-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GAP_LINE = /ticks missing from the room/;

describe('gaps in a recording’s timeline', () => {
  it('are silence in the files, listed in the signed sidecar where they fall, and logged once, then at close', async () => {
    const cap = captureLog('info');
    const svc = new RecordingService({ dir, postProcess: 'none', log: cap.log });
    const rec = svc.createRecorder({ roomId: 'gaps', sampleRate: 8000 });
    const room = new ToneRoom(8000);
    room.legs.set('a', 440);
    rec.addLeg('a', { role: 'caller' });
    const skip = (ms: number): void => {
      for (let i = 0; i < ms / 20; i++) room.next(); // the room's clock moved on, the recorder got nothing
    };
    room.feed(rec, 400);
    skip(200);
    room.feed(rec, 300);
    assert.equal(cap.find(GAP_LINE).length, 1, 'the first gap is logged at once');
    skip(60);
    room.feed(rec, 200);
    skip(20);
    room.feed(rec, 100);
    assert.equal(cap.find(GAP_LINE).length, 1, 'the next ones within 10 s are not logged one by one');
    rec.close();
    const m = await rec.finalized;
    const lines = cap.find(GAP_LINE);
    assert.equal(lines.length, 2, 'the gaps not logged yet are logged at close');
    assert.deepEqual([lines[0].gaps, lines[0].missingMs], [1, 200]);
    assert.deepEqual([lines[1].gaps, lines[1].missingMs, lines[1].totalGaps, lines[1].totalMissingMs], [2, 80, 3, 280]);
    assert.equal(m.mix.durationMs, 1280, 'the files are as long as the room time');
    const onDisk = JSON.parse(readFileSync(join(dir, `${rec.id}.json`), 'utf8')) as RecordingMetadata;
    for (const meta of [m, onDisk]) {
      assert.equal(meta.gaps?.count, 3);
      assert.equal(meta.gaps?.missingMs, 280);
      assert.deepEqual(
        meta.gaps?.list.map((g) => [g.fileMs, g.missingMs, g.filled]),
        [
          [400, 200, true],
          [900, 60, true],
          [1160, 20, true],
        ],
        'each gap where it starts in the mixed file',
      );
    }
    const mix = readWavFile(join(dir, m.mix.file)).samples;
    const at = (ms: number): number => (ms * 8000) / 1000;
    assert.equal(rms(mix, at(400), at(200)), 0, 'the first gap is silence');
    assert.equal(rms(mix, at(900), at(60)), 0, 'the second gap is silence');
    assert.ok(rms(mix, at(600), at(300)) > 0.1 && rms(mix, at(960), at(200)) > 0.1, 'the tone around the gaps');
    svc.close();
  });

  it('a recording without a gap has no gaps entry', async () => {
    const svc = new RecordingService({ dir, postProcess: 'none', log: captureLog().log });
    const rec = svc.createRecorder({ roomId: 'nogap', sampleRate: 8000 });
    const room = new ToneRoom(8000);
    room.legs.set('a', 440);
    room.feed(rec, 300);
    rec.close();
    const m = await rec.finalized;
    assert.equal(m.gaps, undefined);
    svc.close();
  });

  it('lists the first gaps only, counts them all, and logs at most every 10 s', () => {
    const cap = captureLog('info');
    const meta = {} as RecordingMetadata;
    let now = 0;
    const gaps = new TimelineGaps(meta, cap.log, 'r', () => now);
    for (let i = 0; i < MAX_LISTED + 10; i++) {
      gaps.note(20, true, i * 100);
      now += 1000;
    }
    assert.equal(meta.gaps?.count, MAX_LISTED + 10);
    assert.equal(meta.gaps?.missingMs, (MAX_LISTED + 10) * 20);
    assert.equal(meta.gaps?.list.length, MAX_LISTED);
    const expectedLines = Math.ceil(((MAX_LISTED + 10) * 1000) / LOG_EVERY_MS);
    assert.equal(cap.find(GAP_LINE).length, expectedLines);
    gaps.note(40_000, false, 0);
    const last = cap.find(GAP_LINE).at(-1)!;
    // Logged at once with the nine since the last line (at 50 s, the notes at 51 to 59 s).
    assert.deepEqual([last.gaps, last.notFilled], [10, 1], 'a gap too long to fill is logged at once');
    assert.equal(cap.find(GAP_LINE).length, expectedLines + 1);
  });
});

// The recording I/O thread dies (an exit after it ran a batch it never answered,
// or a terminate at any moment) while real recordings are being made: right after
// the files' creates, in the middle of the writes, during the fsync and sha256
// read-back, during the closes. Every recording still finishes complete: a WAV sox
// reads, with its tones, nothing missing, the sha256 in its sidecar true to the
// file, no write failure reported, and no descriptor left open.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FRAME_MS } from '../../../src/mixer/frames.ts';
import { recordingIo } from '../../../src/recording/io/recording-io.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { purity, readWavFile, soxInfo, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { realTimeFeeder, ToneRoom } from '../../helpers/mix-ticks.ts';
import { waitFor } from '../../helpers/wait.ts';

const RATE = 16000;
const root = mkdtempSync(join(tmpdir(), 'parley-iodeath-'));
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * The process's descriptors that an I/O thread could leak, with their targets: its own
 * pipes, eventfds and epolls, sockets, and files under the recordings root. Files
 * elsewhere are left out: tsx opens its cache (/tmp/tsx-0) for a moment now and then,
 * which once made the count before and after differ by one.
 */
function descriptors(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('/') && !target.startsWith(root) && !target.startsWith('/dev/')) continue;
      out.push(`${fd} ${target}`);
    } catch {
      // the directory's own descriptor, closed by now
    }
  }
  return out;
}

type Moment = 'create' | 'write' | 'terminate' | 'sha256' | 'close';

const io = recordingIo();

async function recordThroughDeath(moment: Moment): Promise<{ meta: RecordingMetadata; id: string; seconds: number; dir: string; errors: string[] }> {
  const dir = join(root, moment);
  const logs = captureLog('error');
  const svc = new RecordingService({ dir, postProcess: 'none', log: logs.log });
  const errors: string[] = [];
  svc.on('writeError', (_r, f) => errors.push(f.file));
  const deaths = io.threadDeaths;
  if (moment === 'create') io.exitAfterNext('create');
  const rec = svc.createRecorder({ roomId: `death-${moment}`, sampleRate: RATE });
  rec.addLeg('a', { uri: 'sip:a@x', role: 'caller' });
  rec.addLeg('b', { uri: 'sip:b@x' });
  const room = new ToneRoom(RATE);
  room.legs.set('a', 440).set('b', 1000);
  const feed = realTimeFeeder(rec, room);
  try {
    await waitFor('half a second recorded', () => feed.ticks() >= 25);
    if (moment === 'write') io.exitAfterNext('write');
    if (moment === 'terminate') await io.terminateThread();
    await waitFor('1.5 s recorded', () => feed.ticks() >= 75);
    feed.stop();
    const ticks = feed.ticks();
    if (moment === 'sha256' || moment === 'close') io.exitAfterNext(moment);
    rec.close();
    const meta = await rec.finalized;
    assert.ok(io.threadDeaths > deaths, `the I/O thread died (${moment})`);
    await waitFor('the death logged', () => logs.find(/recording I\/O thread died/).length > 0);
    return { meta, id: rec.id, seconds: (ticks * FRAME_MS) / 1000, dir, errors };
  } finally {
    // Whatever happens: a feeder left running (or a recorder's flush timer) would keep the file waiting for its timeout.
    feed.stop();
    svc.close();
  }
}

describe('the recording I/O thread dies', () => {
  for (const moment of ['create', 'write', 'terminate', 'sha256', 'close'] as const) {
    it(`every recording completes when it dies ${moment === 'terminate' ? 'by terminate() mid-recording' : `right after a batch of ${moment}s`}`, async () => {
      await io.writeAtomic(join(root, 'warm', `${moment}.json`), '{}\n'); // the thread is up: its own descriptors are counted
      const before = descriptors();
      const { meta, id, seconds, dir, errors } = await recordThroughDeath(moment);
      assert.equal(meta.state, 'finalized');
      const entries = [meta.mix, meta.stereo!, ...meta.legs.flatMap((l) => l.stems)];
      assert.equal(entries.length, 4, 'mix, stereo and two stems');
      for (const e of entries) {
        assert.ok(!e.lost, `${e.file}: not lost (${e.lost})`);
        const path = join(dir, e.file);
        const s = soxInfo(path);
        assert.ok(Math.abs(s.seconds - seconds) < 0.001, `${e.file}: ${s.seconds} s on disk for ${seconds} s recorded`);
        assert.equal(e.sha256, createHash('sha256').update(readFileSync(path)).digest('hex'), `${e.file}: sha256`);
        const w = readWavFile(path);
        assert.equal(w.headerDataBytes, w.samples.length * 2, `${e.file}: the header names exactly the data`);
      }
      const stem = (id: string) => readWavFile(join(dir, meta.legs.find((l) => l.id === id)!.stems[0]!.file)).samples;
      assert.ok(purity(stem('a'), RATE, 440) > 0.99, 'stem a is its tone throughout');
      assert.ok(purity(stem('b'), RATE, 1000) > 0.99, 'stem b is its tone throughout');
      const mix = readWavFile(join(dir, meta.mix.file)).samples;
      assert.ok(toneAmplitude(mix, RATE, 440) > 0.2 && toneAmplitude(mix, RATE, 1000) > 0.2, 'the mix holds both');
      const onDisk = JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as RecordingMetadata;
      assert.deepEqual(onDisk, meta, 'the sidecar on disk is the final one');
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');

      const after = descriptors();
      assert.deepEqual(after.filter((d) => d.includes(root)), [], 'no descriptor left on a recording file');
      assert.equal(after.length, before.length, `descriptors before:\n${before.join('\n')}\nafter:\n${after.join('\n')}`);
      assert.deepEqual(errors, [], 'the writers never saw a failure');
      assert.deepEqual(meta.writeFailures ?? [], []);
    });
  }
});

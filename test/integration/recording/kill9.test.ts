// A recorder process killed with SIGKILL leaves a WAV that sox reads, missing at
// most a second, and a sidecar that parses; the next RecordingService repairs and
// finalizes it (headers equal to the data, end time, hashes, interrupted).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { appendFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lockRecordingDir } from '../../../src/recording/dir-lock.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import type { RecoveredRecording } from '../../../src/recording/recover-recordings.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { purity, readWavFile, soxInfo, soxStat } from '../../helpers/audio-analysis.ts';
import { recordThenKill9 } from '../../helpers/kill9-recorder.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-kill9-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('Recorder under kill -9', () => {
  it('leaves a playable WAV missing at most a second and a parseable sidecar', async (t) => {
    // What was sent: the child's own count of the ticks it wrote before it was stopped (not this
    // process's clock, which a loaded machine makes late).
    // A notice marked 2 s before the kill: a change to what the sidecar records reaches the disk
    // within a second (its lengths alone only every 10 s: the repair sets them from the files).
    const { files, sentMs, signal } = await recordThenKill9(dir, 3000, { NOTICE_AT_MS: '1000' });
    const sent = sentMs / 1000;
    assert.ok(sent >= 3, `the child wrote ${sentMs} ms`);
    assert.equal(signal, 'SIGKILL');
    const mix = join(dir, files.find((f) => f.endsWith('.mix.wav'))!);
    const info = soxInfo(mix);
    const stat = soxStat(mix);
    t.diagnostic(`${sent.toFixed(2)} s written before the kill; sox reads ${stat.seconds.toFixed(2)} s`);
    assert.equal(info.rate, 16000);
    assert.ok(stat.seconds >= sent - 1, `${stat.seconds} s on disk, ${sent} s written`);
    assert.ok(stat.seconds <= sent, `${stat.seconds} s on disk, more than the ${sent} s written`);
    const w = readWavFile(mix);
    assert.ok(purity(w.samples, 16000, 440) > 0.99, 'the audio is the tone');
    assert.ok(w.headerDataBytes <= w.samples.length * 2, 'the header never claims data that is not there');
    const stereo = join(dir, files.find((f) => f.endsWith('.stereo.wav'))!);
    assert.ok(soxStat(stereo).seconds >= sent - 1);
    const meta = JSON.parse(readFileSync(join(dir, files.find((f) => f.endsWith('.json'))!), 'utf8')) as RecordingMetadata;
    assert.equal(meta.state, 'recording');
    assert.equal(meta.legs[0].uri, 'sip:alice@example.com');
    assert.deepEqual(meta.notices.map((n) => [n.prompt, n.fileMs]), [['mid-recording', 1000]], 'the notice marked 2 s before the kill is in the sidecar');
    assert.ok(meta.durationMs >= 1000 && meta.durationMs <= sentMs, `sidecar duration ${meta.durationMs} ms, at least the notice's 1000, of ${sentMs} ms written`);
    assert.equal(meta.endedAt, null);

    // A write torn in the middle of a stereo sample frame, and sidecar temp files left behind: a torn
    // one, and the second name a rewrite gives the version it replaces (recording-io-worker.mjs).
    appendFileSync(stereo, Buffer.from([1, 2, 3]));
    const sidecar = join(dir, `${meta.mix.file.replace('.mix.wav', '')}.json`);
    appendFileSync(`${sidecar}.tmp`, '{"half": ');
    linkSync(sidecar, `${sidecar}.1.tmp`);

    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    t.after(() => svc.close());
    const events: RecoveredRecording[] = [];
    svc.on('recovered', (r) => events.push(r));
    const found = await svc.recoverInterrupted();
    assert.equal(found.length, 1);
    assert.deepEqual(events.map((e) => e.id), found.map((f) => f.id), "one 'recovered' event per repaired recording");
    const id = found[0]!.id;
    const fixed = JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as RecordingMetadata;
    assert.equal(fixed.state, 'finalized');
    assert.equal(fixed.interrupted, true);
    assert.ok(fixed.endedAt, 'an end time');
    // The end follows from the data, not from the clock at the repair: the latest of the start plus
    // the mix and the stem's start plus its length (exact, whatever the load when recording).
    const stem = fixed.legs[0]!.stems[0]!;
    const endMs = Math.max(Date.parse(fixed.startedAt) + fixed.mix.durationMs, Date.parse(stem.start.at) + stem.durationMs);
    assert.equal(fixed.endedAt, new Date(endMs).toISOString(), `the end follows from the data (${fixed.mix.durationMs} ms of mix)`);
    assert.ok(fixed.mix.durationMs >= (sent - 1) * 1000, `the repaired mix holds ${fixed.mix.durationMs} ms of the ${sentMs} ms written`);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');
    const entries = [fixed.mix, fixed.stereo!, ...fixed.legs.flatMap((l) => l.stems)];
    assert.equal(entries.length, 3, 'mix, stereo and the stem');
    for (const e of entries) {
      const path = join(dir, e.file);
      const w = readWavFile(path);
      const size = statSync(path).size;
      assert.equal(w.headerDataBytes, size - 44, `${e.file}: the header names exactly the data`);
      assert.equal((size - 44) % (2 * e.channels), 0, `${e.file}: whole sample frames only`);
      assert.equal(e.sha256, createHash('sha256').update(readFileSync(path)).digest('hex'), `${e.file}: sha256`);
      const s = soxInfo(path);
      assert.ok(Math.abs(s.seconds * 1000 - e.durationMs) <= 1, `${e.file}: sox reads ${s.seconds} s, the sidecar says ${e.durationMs} ms`);
      assert.ok(s.seconds >= sent - 1, `${e.file}: ${s.seconds} s of the ${sent.toFixed(2)} s written`);
    }
    assert.equal(fixed.legs[0]!.stems[0]!.end?.at, fixed.endedAt, 'the open stem ends with the recording');
    assert.equal(fixed.legs[0]!.leaves.length, 1, 'the leg left when the recording stopped');
    assert.ok(purity(readWavFile(stereo).samples.filter((_, i) => i % 2 === 0), 16000, 440) > 0.99, 'the stereo left channel is still the tone');
    assert.deepEqual(await svc.recoverInterrupted(), [], 'a finalized recording is left alone');
    svc.close();
  });

  it("after a reboot, a recording whose pid another program holds now is repaired by the Parley that holds the folder's lock", async (t) => {
    const own = join(dir, 'reboot');
    mkdirSync(own);
    const { files } = await recordThenKill9(own, 1500);
    const sidecar = join(own, files.find((f) => f.endsWith('.json'))!);
    // Pids are reused: the killed Parley's is some other live program's now.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    t.after(() => other.kill());
    const meta = JSON.parse(readFileSync(sidecar, 'utf8')) as RecordingMetadata;
    writeFileSync(sidecar, JSON.stringify({ ...meta, pid: other.pid }));
    const unlocked = new RecordingService({ dir: own, postProcess: 'none', log: silentLogger() });
    assert.deepEqual(await unlocked.recoverInterrupted(), [], 'without the lock (a tool, a test) a live pid may be recording: left alone');
    unlocked.close();
    const lock = await lockRecordingDir(own, join(own, '.parley'));
    t.after(() => lock.release());
    const svc = new RecordingService({ dir: own, postProcess: 'none', log: silentLogger() });
    t.after(() => svc.close());
    const found = await svc.recoverInterrupted();
    assert.equal(found.length, 1, 'repaired, not left to a process that cannot be writing it');
    const fixed = JSON.parse(readFileSync(sidecar, 'utf8')) as RecordingMetadata;
    assert.equal(fixed.state, 'finalized');
    assert.equal(fixed.interrupted, true);
    const mix = join(own, fixed.mix.file);
    assert.equal(readWavFile(mix).headerDataBytes, statSync(mix).size - 44, 'the header names exactly the data');
  });
});

// A real full disk: the recordings folder is a 2 MB tmpfs, filled up by another
// file in the middle of a recording. The recording reports the failure once per
// file, keeps every file consistent (headers never claim more than the whole
// sample frames on disk), refuses new recordings (minFreeBytes), and goes on where
// it stopped when space returns; nothing is lost, no temp file is left, no empty
// WAV either. Needs root (mount); skipped otherwise.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FRAME_MS } from '../../../src/mixer/frames.ts';
import { CompanionFiles } from '../../../src/recording/companion-files.ts';
import { listedHashes } from '../../../src/recording/compliance/recording-verifier.ts';
import { finalizeRecording } from '../../../src/recording/finalize-recording.ts';
import type { FileEntry, RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { purity, readWavFile, soxInfo } from '../../helpers/audio-analysis.ts';
import { realTimeFeeder, ToneRoom } from '../../helpers/mix-ticks.ts';
import { fillUp, mountSmallDisk, unfill, type SmallDisk } from '../../helpers/small-disk.ts';
import { waitFor } from '../../helpers/wait.ts';

const RATE = 48000;
let disk: SmallDisk | null = null;
let dir = '';
let mounted = false;

before(() => {
  disk = mountSmallDisk('2m');
  mounted = disk !== null;
  dir = disk?.dir ?? '';
});
after(() => disk?.unmount());

function wavsOf(m: RecordingMetadata): string[] {
  return [m.mix, ...(m.stereo ? [m.stereo] : []), ...m.legs.flatMap((l) => l.stems)].filter((e) => !e.lost).map((e) => e.file);
}

/** Every WAV on disk: a complete header that never claims more than the whole frames present. */
function assertConsistent(exact: boolean): void {
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.wav'))) {
    const path = join(dir, f);
    const size = statSync(path).size;
    assert.ok(size >= 44, `${f}: ${size} bytes, no complete header`);
    const w = readWavFile(path);
    const block = 2 * w.channels;
    const whole = size - 44 - ((size - 44) % block);
    if (exact) assert.equal(w.headerDataBytes, size - 44, `${f}: header == data`);
    else assert.ok(w.headerDataBytes <= whole && whole - w.headerDataBytes < RATE * block, `${f}: header ${w.headerDataBytes}, on disk ${whole}`);
  }
}

describe('a full disk while recording', () => {
  it('reports, keeps the files consistent, refuses new recordings, and resumes without loss', async (t) => {
    if (!mounted) return t.skip('needs root to mount a tmpfs');
    const svc = new RecordingService({ dir, postProcess: 'none', flushIntervalMs: 100, minFreeBytes: 500_000, log: silentLogger() });
    t.after(() => svc.close());
    const failures: string[] = [];
    const resumed: string[] = [];
    svc.on('writeError', (_r, f) => failures.push(f.file));
    svc.on('writeResumed', (_r, f) => resumed.push(f));
    const rec = svc.createRecorder({ roomId: 'full', sampleRate: RATE });
    rec.addLeg('a', { uri: 'sip:a@x', role: 'caller' });
    const room = new ToneRoom(RATE);
    room.legs.set('a', 440);
    const feed = realTimeFeeder(rec, room);
    t.after(() => feed.stop());
    await waitFor('a second recorded', () => feed.ticks() >= 50);
    assert.ok(svc.hasRoom(), 'room for recordings before the disk fills');

    fillUp(join(dir, 'filler.bin'));
    await waitFor('write failures reported', () => failures.length >= 3, 5000);
    assert.ok(svc.writeErrors >= 3);
    // A leg that joins and leaves while nothing can be written: no empty, unplayable stem is left.
    rec.addLeg('b', { uri: 'sip:b@x' });
    await new Promise((r) => setTimeout(r, 300));
    rec.removeLeg('b');
    await waitFor('new recordings refused', () => !svc.hasRoom(), 3000);
    assert.ok(svc.freeSpace !== null && svc.freeSpace < 500_000);
    await new Promise((r) => setTimeout(r, 1500)); // retries fail meanwhile: still one report per file
    const failedFiles = new Set(failures);
    assert.equal(failures.length, failedFiles.size, `one report per file: ${failures.join(', ')}`);
    assertConsistent(false);

    unfill(join(dir, 'filler.bin'));
    await waitFor('writes resumed', () => [...failedFiles].filter((f) => !f.includes('.leg2-')).every((f) => resumed.includes(f)), 5000);
    await waitFor('room again', () => svc.hasRoom(), 3000);
    const until = feed.ticks() + 50;
    await waitFor('another second recorded', () => feed.ticks() >= until);
    feed.stop();
    const ticks = feed.ticks();
    rec.close();
    const meta = await rec.finalized;

    assert.equal(meta.state, 'finalized');
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
    assertConsistent(true);
    const stemB = meta.legs.find((l) => l.id === 'b')!.stems[0]!;
    assert.ok(stemB.lost, "the stem that never got a header is marked lost in the sidecar");
    assert.ok(!readdirSync(dir).includes(stemB.file), 'and is not left as an empty file');
    const failuresInSidecar = meta.writeFailures ?? [];
    assert.ok(failuresInSidecar.length >= 2 && failuresInSidecar.filter((f) => !f.file.includes('.leg2-')).every((f) => f.resumedAt), JSON.stringify(failuresInSidecar));
    for (const f of wavsOf(meta)) {
      const s = soxInfo(join(dir, f));
      assert.ok(Math.abs(s.seconds - (ticks * FRAME_MS) / 1000) < 0.001, `${f}: ${s.seconds} s on disk for ${ticks} ticks: nothing lost`);
    }
    const mix = readWavFile(join(dir, meta.mix.file)).samples;
    assert.ok(purity(mix, RATE, 440) > 0.99, 'the mix is the tone throughout (no gap, no garbage)');
    const onDisk = JSON.parse(readFileSync(join(dir, `${rec.id}.json`), 'utf8')) as RecordingMetadata;
    assert.equal(onDisk.state, 'finalized');
    svc.close();
  });

  it('closed while the disk is full: consistent files at once, the final sidecar retried until space returns', async (t) => {
    if (!mounted) return t.skip('needs root to mount a tmpfs');
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true });
    const svc = new RecordingService({ dir, postProcess: 'none', flushIntervalMs: 100, log: silentLogger() });
    t.after(() => svc.close());
    const rec = svc.createRecorder({ roomId: 'full-close', sampleRate: RATE });
    rec.addLeg('a', { uri: 'sip:a@x', role: 'caller' });
    const room = new ToneRoom(RATE);
    room.legs.set('a', 440);
    const feed = realTimeFeeder(rec, room);
    t.after(() => feed.stop());
    await waitFor('a second recorded', () => feed.ticks() >= 50);
    fillUp(join(dir, 'filler.bin'));
    await waitFor('a write failure', () => svc.writeErrors > 0, 5000);
    await new Promise((r) => setTimeout(r, 500));
    feed.stop();
    rec.close();
    await rec.whenClosed;
    // The 'closed' sidecar went into the temp file its rewrites keep (no new page needed) and freed
    // the page of the version it replaced: taken again here, before the final sidecar is written.
    fillUp(join(dir, 'filler-2.bin'));
    assertConsistent(true);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
    await rec.finalized;
    svc.close();
    const sidecarNow = (): RecordingMetadata => JSON.parse(readFileSync(join(dir, `${rec.id}.json`), 'utf8')) as RecordingMetadata;
    assert.notEqual(sidecarNow().state, 'finalized', 'the final sidecar could not be written yet');

    unfill(join(dir, 'filler.bin'));
    unfill(join(dir, 'filler-2.bin'));
    const m = await waitFor('the final sidecar, retried', () => (sidecarNow().state === 'finalized' ? sidecarNow() : undefined), 8000);
    assert.equal(m.interrupted, undefined, 'written by its own recorder');
    const entries: FileEntry[] = [m.mix, m.stereo!, ...m.legs.flatMap((l) => l.stems)];
    assert.ok(entries.every((e) => e.lost || /^[0-9a-f]{64}$/.test(e.sha256 ?? '')), 'every file on disk is hashed');
    assertConsistent(true);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('a SIPREC metadata version the full disk refuses is not left as an empty file (it was hashed and signed as the version received)', async (t) => {
    if (!mounted) return t.skip('needs root to mount a tmpfs');
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true });
    fillUp(join(dir, 'filler.bin'));
    const files = new CompanionFiles((n) => join(dir, n), silentLogger());
    files.write('r.metadata-2.xml', `<recording xmlns="urn:ietf:params:xml:ns:recording:1">${' '.repeat(16384)}</recording>`);
    await files.settled();
    unfill(join(dir, 'filler.bin'));
    assert.equal(existsSync(join(dir, 'r.metadata-2.xml')), false, 'no file: its sha256 is null in the sidecar (not written), not that of an empty one');
    // Finalized: the version is listed as lost (why), and verify does not take it for a file removed since.
    const meta = { siprec: { metadataVersions: [{ file: 'r.metadata-2.xml', at: '', method: 'UPDATE', bytes: 16440, problem: null, dialect: null, dataMode: null }] }, postProcessing: { format: 'none' }, mix: null, legs: [] } as unknown as RecordingMetadata;
    await finalizeRecording({ id: 'r', meta, files: [], closed: [], pathOf: (f) => join(dir, f), postProcessor: undefined, save: async () => true, onProgress: () => undefined });
    const v = meta.siprec!.metadataVersions[0]!;
    assert.equal(v.sha256, null);
    assert.match(v.lost ?? '', /not on disk/);
    assert.deepEqual(listedHashes(meta).find((f) => f.file === 'r.metadata-2.xml')?.lost, v.lost, 'verify skips it as it skips a lost WAV');
  });
});

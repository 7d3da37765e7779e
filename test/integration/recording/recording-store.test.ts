// Uploads of finalized recordings to a real S3-compatible server (s3rver behind a
// gate the test switches): stored and verified, local audio removed only after;
// a file past the most one PUT takes, sent in parts; a file swapped for a symlink
// refused;
// an endpoint down for a while, one answering 500, a stop with uploads pending
// (resumed by the next uploader from the journal).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecordingStoreConfig } from '../../../src/config/recording-store-schema.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { RecordingUploader, type RecordingUploaderOptions, type StoredRecording } from '../../../src/recording/store/recording-uploader.ts';
import { S3Bucket } from '../../../src/recording/store/s3-bucket.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { startS3, storeConfig, type S3TestServer } from '../../helpers/s3-server.ts';
import { waitFor } from '../../helpers/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-store-'));
let s3: S3TestServer;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3.stop();
  rmSync(root, { recursive: true, force: true });
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A real recording of `ms` made by a RecordingService in `dir`. */
async function record(dir: string, ms = 1000): Promise<{ id: string; meta: RecordingMetadata; bytes: Map<string, Buffer> }> {
  const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
  const rec = svc.createRecorder({ roomId: 'store', sampleRate: 16000 });
  rec.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
  const room = new ToneRoom(16000);
  room.legs.set('a', 440);
  room.feed(rec, ms);
  rec.close();
  const meta = await rec.finalized;
  svc.close();
  const files = [meta.mix.file, meta.stereo!.file, meta.legs[0].stems[0].file, `${rec.id}.json`];
  return { id: rec.id, meta, bytes: new Map(files.map((f) => [f, readFileSync(join(dir, f))])) };
}

function uploader(dir: string, extra: Partial<RecordingStoreConfig> = {}, o: Partial<RecordingUploaderOptions> = {}): RecordingUploader {
  const config = { ...storeConfig(s3), journalFile: join(dir, '.uploads.json'), ...extra } as RecordingStoreConfig;
  return new RecordingUploader({ dir, config, log: silentLogger(), ...o });
}

async function objectBytes(key: string): Promise<Buffer | null> {
  const b = new S3Bucket({ ...(storeConfig(s3) as unknown as RecordingStoreConfig), endpoint: s3.directEndpoint });
  try {
    const got = await b.get(key);
    if (!got) return null;
    const parts: Buffer[] = [];
    for await (const c of got.stream) parts.push(c as Buffer);
    return Buffer.concat(parts);
  } finally {
    b.close();
  }
}

async function assertStored(id: string, bytes: Map<string, Buffer>): Promise<void> {
  for (const [file, data] of bytes) {
    const got = await objectBytes(`parley/${id}/${file}`);
    assert.ok(got, `${file} is in the bucket`);
    assert.equal(sha(got), sha(data), `${file} in the bucket is the local file`);
  }
}

describe('recording store (S3)', () => {
  it('uploads a finalized recording, verifies it, then removes the local audio (sidecar kept)', async (t) => {
    const dir = join(root, 'basic');
    const { id, meta, bytes } = await record(dir);
    const up = uploader(dir);
    t.after(() => up.close());
    await up.start();
    const stored = up.waitFor('stored');
    await up.enqueue(id, meta);
    const [s] = (await stored) as [StoredRecording];
    assert.equal(s.id, id);
    assert.deepEqual(s.objects.map((o) => o.key).sort(), [...bytes.keys()].map((f) => `parley/${id}/${f}`).sort());
    await assertStored(id, bytes);
    assert.deepEqual(s.removed.sort(), [meta.mix.file, meta.stereo!.file, meta.legs[0].stems[0].file].sort());
    for (const f of s.removed) assert.equal(existsSync(join(dir, f)), false, `${f} removed locally`);
    assert.ok(existsSync(join(dir, `${id}.json`)), 'the sidecar stays');
    assert.equal(up.pending, 0);
    // Idempotent: enqueued again (no local audio now), nothing is lost or re-sent wrongly.
    const again = up.waitFor('stored');
    await up.enqueue(id, meta);
    await again;
    await assertStored(id, bytes);
    up.close();
  });

  it('a file past the most one PUT takes is sent in parts: stored, the same bytes, then removed locally', async (t) => {
    // S3 takes at most 5 GiB in one PUT; the gate refuses past 8 MiB and the uploader goes to
    // parts past 8 MiB, in parts of 5 MiB (S3's smallest): 200 s of 16 kHz stereo is 12.8 MB.
    s3.maxPutBytes = 8 * 1024 * 1024;
    t.after(() => {
      s3.maxPutBytes = null;
      s3.observe = null;
    });
    const dir = join(root, 'parts');
    const { id, meta, bytes } = await record(dir, 200_000);
    assert.ok(bytes.get(meta.stereo!.file)!.length > 12_000_000);
    let partPuts = 0;
    s3.observe = (req) => {
      if (req.method === 'PUT' && /[?&]uploadId=/.test(req.url ?? '')) partPuts++;
    };
    const up = uploader(dir, {}, { multipartAboveBytes: 8 * 1024 * 1024, partBytes: 5 * 1024 * 1024 });
    t.after(() => up.close());
    await up.start();
    const outcome = Promise.race([up.waitFor('stored').then(() => 'stored'), up.waitFor('uploadFailed').then(([f]) => `failed: ${(f as { error: Error }).error.message}`)]);
    await up.enqueue(id, meta);
    assert.equal(await outcome, 'stored');
    await assertStored(id, bytes);
    assert.equal(partPuts, 3, 'the 12.8 MB stereo file in three parts');
    assert.equal(existsSync(join(dir, meta.stereo!.file)), false, 'removed locally once verified');
    up.close();
  });

  it('a file swapped for a symlink before its upload (to a file outside) is refused, never copied to the bucket', async (t) => {
    // Whoever can write into recording.dir, with Parley running as root, must not get a file
    // they cannot read (here a stand-in for /etc/shadow) copied into the bucket.
    const dir = join(root, 'symlink');
    const { id, meta } = await record(dir);
    const secret = join(root, 'shadow');
    writeFileSync(secret, 'TOP-SECRET-shadow-line');
    rmSync(join(dir, meta.stereo!.file));
    symlinkSync(secret, join(dir, meta.stereo!.file));
    const up = uploader(dir);
    t.after(() => up.close());
    await up.start();
    const outcome = Promise.race([up.waitFor('stored').then(() => 'stored'), up.waitFor('uploadFailed').then(([f]) => `failed: ${(f as { error: Error }).error.message}`)]);
    await up.enqueue(id, meta);
    assert.match(await outcome, /^failed: .*is a symlink: not uploaded/);
    await up.idle();
    up.close();
    assert.equal(await objectBytes(`parley/${id}/${meta.stereo!.file}`), null, 'no object made of the linked file');
    assert.equal(lstatSync(join(dir, meta.stereo!.file)).isSymbolicLink(), true, 'the link is left for the operator to see');
  });

  it('an endpoint down for a while: retried with back-off, nothing removed until it verifies', async (t) => {
    const dir = join(root, 'down');
    const { id, meta, bytes } = await record(dir);
    const up = uploader(dir);
    t.after(() => up.close());
    await up.start();
    s3.mode = 'down';
    try {
      const failures: number[] = [];
      up.on('uploadFailed', (f) => failures.push(f.retryInMs));
      await up.enqueue(id, meta);
      await waitFor('three failed attempts', () => failures.length >= 3, 20_000);
      assert.ok(failures[1] > failures[0], `back-off grows: ${failures.join(', ')}`);
      for (const f of bytes.keys()) assert.ok(existsSync(join(dir, f)), `${f} still local while the endpoint is down`);
      assert.equal(up.pending, 1);
      assert.equal(up.failing, 1);
      const journal = JSON.parse(readFileSync(join(dir, '.uploads.json'), 'utf8')) as { pending: { id: string; lastError: string }[] };
      assert.equal(journal.pending[0].id, id);
    } finally {
      s3.mode = 'pass';
    }
    await up.waitFor('stored');
    await assertStored(id, bytes);
    assert.equal(existsSync(join(dir, meta.mix.file)), false);
    up.close();
  });

  it('an endpoint answering 500: reported with the status, retried, then stored', async (t) => {
    const dir = join(root, 'e500');
    const { id, meta, bytes } = await record(dir);
    const up = uploader(dir);
    t.after(() => up.close());
    await up.start();
    s3.mode = 'fail500';
    let error: Error | null = null;
    try {
      const failed = up.waitFor('uploadFailed');
      await up.enqueue(id, meta);
      [{ error }] = await failed;
      assert.match(error.message, /500/);
      assert.ok(existsSync(join(dir, meta.mix.file)));
    } finally {
      s3.mode = 'pass';
    }
    await up.waitFor('stored');
    await assertStored(id, bytes);
    up.close();
  });

  it('uploads pending at a stop resume at the next start, from the journal', async (t) => {
    const dir = join(root, 'resume');
    const { id, meta, bytes } = await record(dir);
    s3.mode = 'down';
    const first = uploader(dir);
    t.after(() => first.close());
    await first.start();
    await first.enqueue(id, meta);
    await first.waitFor('uploadFailed');
    first.close();
    await first.idle();
    s3.mode = 'pass';
    assert.ok(existsSync(join(dir, meta.mix.file)));
    const second = uploader(dir);
    t.after(() => second.close());
    const stored = second.waitFor('stored');
    assert.equal(await second.start(), 1, 'one upload resumed');
    await stored;
    await assertStored(id, bytes);
    assert.equal(second.pending, 0);
    second.close();
  });

  it('closed at any point of an attempt: "stored" only before close(), else the entry stays and the next start reports it once', async (t) => {
    // close() after the n-th request's response left the gate (and a moment later): every
    // point of an attempt (4 files, each HEAD, PUT, HEAD: 12 requests), among them between
    // the last check and the report.
    const points: { n: number; delayMs: number }[] = [];
    for (let n = 1; n <= 14; n++) for (const delayMs of [0, 1, 3]) points.push({ n, delayMs });
    t.after(() => {
      s3.observe = null;
    });
    let completedUnclosed = 0;
    for (const { n, delayMs } of points) {
      const dir = join(root, `close-${n}-${delayMs}`);
      const { id, meta } = await record(dir, 200);
      const up = uploader(dir);
      await up.start();
      let closed = false;
      const reports: boolean[] = [];
      up.on('stored', () => reports.push(closed));
      let seen = 0;
      s3.observe = (_req, res) => {
        if (++seen === n) res.on('finish', () => setTimeout(() => { closed = true; up.close(); }, delayMs));
      };
      await up.enqueue(id, meta);
      await waitFor('the attempt stored or closed', () => reports.length > 0 || closed || undefined, 10_000);
      await new Promise((r) => setTimeout(r, delayMs + 5));
      await up.idle();
      s3.observe = null;
      up.close();
      assert.ok(!reports.includes(true), `request ${n} + ${delayMs} ms: no report after close()`);
      const journal = JSON.parse(readFileSync(join(dir, '.uploads.json'), 'utf8')) as { pending: { id: string }[] };
      if (reports.length === 1) {
        assert.deepEqual(journal.pending, [], `request ${n} + ${delayMs} ms: reported, so out of the journal`);
        if (!closed) completedUnclosed++;
        continue;
      }
      assert.deepEqual(journal.pending.map((e) => e.id), [id], `request ${n} + ${delayMs} ms: not reported, so still journaled`);
      const next = uploader(dir);
      const again: StoredRecording[] = [];
      next.on('stored', (x) => again.push(x));
      assert.equal(await next.start(), 1);
      await waitFor('the next start reports it', () => again.length > 0 || undefined, 10_000);
      await next.idle();
      next.close();
      assert.equal(again.length, 1, `request ${n} + ${delayMs} ms: reported once by the next start`);
      assert.equal(again[0]!.id, id);
    }
    assert.ok(completedUnclosed > 0, 'some points lie past the whole attempt (n above its request count)');
  });

  it('by default the journal is in the recordings folder; the old default in the working folder hands over this folder\'s entries only', async (t) => {
    const dir = join(root, 'default-journal');
    const { id, meta } = await record(dir, 300);
    // The working folder a Parley was started from, with the old default journal: one of this folder's recordings and another's.
    const work = mkdtempSync(join(tmpdir(), 'parley-cwd-'));
    const cwd = process.cwd();
    process.chdir(work);
    t.after(() => process.chdir(cwd));
    mkdirSync(join(work, '.parley'));
    const entry = (rid: string): object => ({ id: rid, files: [meta.mix.file, `${rid}.json`], addedAt: new Date().toISOString(), attempts: 0, lastError: null });
    writeFileSync(join(work, '.parley', 'uploads-pending.json'), JSON.stringify({ version: 1, pending: [entry(id), entry('call-elsewhere-20261206T000000Z-aaaaaa')] }));
    const up = new RecordingUploader({ dir, config: storeConfig(s3) as unknown as RecordingStoreConfig, log: silentLogger() });
    t.after(() => up.close());
    const stored = up.waitFor('stored');
    assert.equal(await up.start(), 1, "this folder's recording resumes");
    await stored;
    const legacy = JSON.parse(readFileSync(join(work, '.parley', 'uploads-pending.json'), 'utf8')) as { pending: { id: string }[] };
    assert.deepEqual(legacy.pending.map((e) => e.id), ['call-elsewhere-20261206T000000Z-aaaaaa'], "the other folder's entry stays where it was");
    const mine = (): unknown[] => (JSON.parse(readFileSync(join(dir, '.parley', 'uploads-pending.json'), 'utf8')) as { pending: unknown[] }).pending;
    await waitFor('the journal in the recordings folder done with it', () => mine().length === 0);
    assert.equal(existsSync(join(dir, meta.mix.file)), false, 'uploaded and verified: the local audio removed');
  });

  it('a recording finalized after the stop (closed at shutdown) is journaled and uploaded at the next start', async (t) => {
    const dir = join(root, 'shutdown');
    const journalFile = join(dir, '.uploads.json');
    const config = { ...storeConfig(s3), journalFile } as RecordingStoreConfig;
    const up = new RecordingUploader({ dir, config, log: silentLogger() });
    const svc = new RecordingService({ dir, postProcess: 'none', store: up, log: silentLogger() });
    t.after(() => svc.close());
    await svc.recoverInterrupted();
    const rec = svc.createRecorder({ roomId: 'late', sampleRate: 16000 });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 500);
    // As Parley.shutdown(): close everything (the uploader with it), then wait for the files.
    svc.close();
    await svc.settled();
    const meta = await rec.finalized;
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { pending: { id: string }[] };
    assert.deepEqual(journal.pending.map((e) => e.id), [rec.id]);
    assert.ok(existsSync(join(dir, meta.mix.file)), 'nothing removed');
    const next = uploader(dir);
    t.after(() => next.close());
    const stored = next.waitFor('stored');
    assert.equal(await next.start(), 1);
    await stored;
    assert.equal(existsSync(join(dir, meta.mix.file)), false);
    next.close();
  });
});

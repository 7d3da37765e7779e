// parley-tests: beside
// A Parley process killed with SIGKILL in the middle of a multipart upload (its first
// part stored in s3rver, the second held by the gate) leaves that upload's parts in the
// bucket. The next start aborts the upload by the ID written down before its first part
// (s3rver's storage no longer holds the upload; aborting it again answers NoSuchUpload),
// then stores the file once, the same bytes as the local file: a 440 Hz recording.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecordingStoreConfig } from '../../src/config/recording-store-schema.ts';
import { RecordingService } from '../../src/recording/recording-service.ts';
import { RecordingUploader } from '../../src/recording/store/recording-uploader.ts';
import { S3Bucket } from '../../src/recording/store/s3-bucket.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { channel, medianToneShare } from '../helpers/audio-analysis.ts';
import { ToneRoom } from '../helpers/mix-ticks.ts';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { startS3, storeConfig, type S3TestServer } from '../helpers/s3-server.ts';
import { waitFor } from '../helpers/wait.ts';

const MIB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'parley-multipart-kill-'));
let s3: S3TestServer;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3.stop();
  rmSync(root, { recursive: true, force: true });
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The bucket as a client past the gate sees it (s3rver itself); the gate's own AbortMultipartUpload through `endpoint`. */
function bucket(endpoint: string): S3Bucket {
  return new S3Bucket({ ...(storeConfig(s3) as unknown as RecordingStoreConfig), endpoint });
}

async function objectBytes(key: string): Promise<Buffer | null> {
  const b = bucket(s3.directEndpoint);
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

async function kill9(p: ParleyProcess | null): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGKILL');
  await once(p.child, 'exit');
}

describe('a multipart upload cut short by kill -9 (spawned Parley, s3rver)', () => {
  it('the next start aborts the upload left (its parts removed) and stores the file once', async (t) => {
    const dir = join(root, 'recordings');
    // 200 s of 16 kHz stereo (12.8 MB): past multipartAboveBytes (8 MiB), so three parts of 5 MiB.
    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'multipart', sampleRate: 16000 });
    rec.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 200_000);
    rec.close();
    const meta = await rec.finalized;
    svc.close();
    const stereo = meta.stereo!.file;
    const local = readFileSync(join(dir, stereo));
    assert.ok(local.length > 12_000_000);
    // Its upload pending, as a process that could not reach the bucket leaves it (the journal in recording.dir).
    s3.mode = 'down';
    const first = new RecordingUploader({ dir, config: storeConfig(s3) as unknown as RecordingStoreConfig, log: silentLogger() });
    await first.start();
    const failed = first.waitFor('uploadFailed');
    await first.enqueue(rec.id, meta);
    await failed;
    first.close();
    await first.idle();
    s3.mode = 'pass';

    // Parley resumes it: once the first part of the stereo file is stored, the gate holds every PUT; then SIGKILL.
    let uploadId: string | null = null;
    s3.observe = (req, res) => {
      const m = /[?&]uploadId=([0-9a-f]+)/.exec(req.url ?? '');
      if (req.method === 'PUT' && m && /[?&]partNumber=1(&|$)/.test(req.url ?? '')) {
        uploadId = m[1]!;
        res.on('finish', () => {
          s3.mode = 'stallPut';
        });
      }
    };
    t.after(() => {
      s3.observe = null;
      s3.mode = 'pass';
    });
    const store = `store: ${JSON.stringify(storeConfig(s3, { multipartAboveBytes: 8 * MIB, partBytes: 5 * MIB }))}`;
    let proc: ParleyProcess | null = await spawnParley('', { recordings: dir, recording: store });
    let next: ParleyProcess | null = null;
    t.after(() => kill9(proc));
    t.after(() => kill9(next));
    await waitFor('the second part held by the gate', () => s3.stalledPuts > 0 || undefined, 60_000);
    await kill9(proc);
    proc = null;
    assert.ok(uploadId, 'a multipart upload was begun');
    const id: string = uploadId;
    assert.ok(existsSync(join(s3.uploadDir(id), '1')), 'the kill left the upload with its first part in s3rver');
    const begun = join(dir, '.parley', 'uploads-begun');
    assert.deepEqual(readdirSync(begun).map((f) => (JSON.parse(readFileSync(join(begun, f), 'utf8')) as { uploadId: string }).uploadId), [id], 'its ID written down');

    // The next start: the upload left is aborted, the file stored anew.
    s3.mode = 'pass';
    const deletes: string[] = [];
    s3.observe = (req) => {
      if (req.method === 'DELETE') deletes.push(req.url ?? '');
    };
    next = await spawnParley('', { recordings: dir, recording: store });
    await next.logged(/^recording stored$/, 120_000);
    assert.ok(deletes.some((u) => u.includes(`uploadId=${id}`)), `AbortMultipartUpload sent for ${id}: ${deletes.join(', ')}`);
    assert.equal(existsSync(s3.uploadDir(id)), false, "the upload's parts are gone from s3rver");
    const uploads = join(s3.directory, s3.bucket, '._S3rver_uploads');
    assert.deepEqual(existsSync(uploads) ? readdirSync(uploads) : [], [], 'no upload left in s3rver: the new one was completed');
    const viaGate = bucket(s3.endpoint);
    try {
      assert.equal(await viaGate.abortUpload(`parley/${rec.id}/${stereo}`, id), false, 'aborted again: NoSuchUpload');
    } finally {
      viaGate.close();
    }
    assert.deepEqual(readdirSync(begun), [], 'no upload ID left written down');
    const object = await objectBytes(`parley/${rec.id}/${stereo}`);
    assert.ok(object, 'the stereo file is in the bucket');
    assert.equal(object.length, local.length);
    assert.equal(sha(object), sha(local), 'the object is the local file, byte for byte');
    // The object is audio: the caller's 440 Hz tone on its left channel (44-byte header, interleaved stereo).
    const pcm = new Int16Array(object.buffer, object.byteOffset + 44, (object.length - 44) >> 1);
    assert.ok(medianToneShare(channel(pcm, 2, 0), 440, 16000) > 0.9, 'a 440 Hz tone in the stored object');
    assert.equal(next.lines.filter((l) => l.msg === 'recording stored').length, 1, 'stored once');
  });
});

// Compliance of recordings kept in object storage (a real s3rver behind the test
// gate): once the uploader removed the local audio, verify checks the objects
// (size and sha256 metadata; --deep: the bytes), reports a replaced or altered
// object and a bucket it cannot reach; retention removes the objects of an expired
// stored recording (and keeps a held one, and retries while the bucket is down);
// the audit log shows `stored` and `deleted` with the object keys and hashes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ApiError } from '../../../src/api/api-error.ts';
import { openDownload } from '../../../src/api/recording-download.ts';
import type { RecordingStoreConfig } from '../../../src/config/recording-store-schema.ts';
import type { AuditEntry } from '../../../src/recording/compliance/audit-log.ts';
import { ComplianceService } from '../../../src/recording/compliance/compliance-service.ts';
import { verifyRecording } from '../../../src/recording/compliance/recording-verifier.ts';
import { parseMasterKey } from '../../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../../src/recording/encryption/recording-encryption.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { RecordingUploader, type StoredRecording } from '../../../src/recording/store/recording-uploader.ts';
import { S3Bucket } from '../../../src/recording/store/s3-bucket.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../../helpers/api-client.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { startParley } from '../../helpers/parley-harness.ts';
import { startS3, storeConfig, type S3TestServer } from '../../helpers/s3-server.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-cstore-'));
let s3: S3TestServer;
let direct: S3Client;
let look: S3Bucket;
before(async () => {
  s3 = await startS3();
  const c = storeConfig(s3) as unknown as RecordingStoreConfig;
  direct = new S3Client({
    region: 'us-east-1',
    endpoint: s3.directEndpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  look = new S3Bucket({ ...c, endpoint: s3.directEndpoint });
});
after(async () => {
  look.close();
  direct.destroy();
  await s3.stop();
  rmSync(root, { recursive: true, force: true });
});

interface Setup {
  dir: string;
  svc: RecordingService;
  store: RecordingUploader;
  compliance: ComplianceService;
  close(): void;
}

async function open(dir: string, o: { encrypted?: boolean; days?: number; masterHex?: string } = {}): Promise<Setup> {
  const config = { ...storeConfig(s3), journalFile: join(dir, '.uploads.json') } as RecordingStoreConfig;
  const store = new RecordingUploader({ dir, config, log: silentLogger() });
  const encryption = o.encrypted ? new RecordingEncryption(parseMasterKey(Buffer.from(o.masterHex ?? randomBytes(32).toString('hex')), 'test')) : null;
  const svc = new RecordingService({ dir, postProcess: 'none', encryption, store, log: silentLogger() });
  const compliance = await ComplianceService.start({ dir, keyFile: null, auditLog: null, retention: { days: o.days ?? null, sweepIntervalSec: 0 }, log: silentLogger() });
  compliance.attach(svc);
  await store.start();
  return {
    dir,
    svc,
    store,
    compliance,
    close: () => {
      svc.close();
      compliance.close();
    },
  };
}

/** A real recording, uploaded, its local audio removed, the `stored` entry logged. */
async function recordStored(s: Setup, room: string): Promise<{ id: string; meta: RecordingMetadata; audio: string[] }> {
  const rec = s.svc.createRecorder({ roomId: room, sampleRate: 16000 });
  rec.addLeg('a', { uri: 'sip:alice@example.com', callId: `cid-${room}`, role: 'caller' });
  const tones = new ToneRoom(16000);
  tones.legs.set('a', 440);
  tones.feed(rec, 600);
  const stored = new Promise<void>((resolve) => {
    const on = (r: StoredRecording): void => {
      if (r.id !== rec.id) return;
      s.store.off('stored', on);
      resolve();
    };
    s.store.on('stored', on);
  });
  rec.close();
  const meta = await rec.finalized;
  await stored;
  await s.compliance.settled();
  const audio = [meta.mix.file, meta.stereo!.file, meta.legs[0]!.stems[0]!.file];
  for (const f of audio) assert.equal(existsSync(join(s.dir, f)), false, `${f} was removed locally after its upload`);
  return { id: rec.id, meta, audio };
}

function auditEntries(dir: string, id?: string): AuditEntry[] {
  return readFileSync(join(dir, '.parley', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEntry)
    .filter((e) => id === undefined || e.recording === id);
}

async function objectBytes(key: string): Promise<Buffer> {
  const got = await look.get(key);
  assert.ok(got, `${key} is in the bucket`);
  const parts: Buffer[] = [];
  for await (const c of got.stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** `parley recordings verify` (asynchronously: the S3 server runs in this process). */
function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return recordingsCli('verify', ...args);
}

/** `parley recordings …`, asynchronously. */
function recordingsCli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'recordings', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject).on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const put = (key: string, body: Buffer, sha256?: string) =>
  direct.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentLength: body.length, ...(sha256 ? { Metadata: { sha256 } } : {}) }));

describe('compliance of stored recordings: verify', () => {
  let s: Setup;
  before(async () => {
    s = await open(join(root, 'verify'), { encrypted: true });
  });
  after(() => s.close());

  it('a stored (encrypted) recording verifies against the bucket; the audit log has its `stored` entry', async () => {
    const { id, meta, audio } = await recordStored(s, 'ok');
    assert.ok(meta.encryption, 'the recording is encrypted: the sidecar hashes the ciphertext, as the uploader does');
    for (const deep of [false, true]) {
      const { recording: v, audit } = await s.compliance.verify(id, undefined, deep);
      assert.equal(v.ok, true, `deep=${deep}: ${JSON.stringify(v.problems)}`);
      assert.equal(audit.ok, true);
      assert.equal(v.state, 'verified');
      assert.equal(v.signature, 'valid');
      assert.deepEqual(v.files.filter((f) => f.stored).map((f) => f.file).sort(), [...audio].sort());
      for (const f of v.files) assert.equal(f.actual, f.expected);
    }
    const [stored, ...more] = auditEntries(s.dir, id).filter((e) => e.event === 'stored');
    assert.ok(stored, 'a stored entry');
    assert.equal(more.length, 0);
    const objects = stored.objects as { file: string; key: string; size: number; sha256: string }[];
    for (const f of audio) {
      const o = objects.find((x) => x.file === f);
      assert.ok(o, `${f} in the stored entry`);
      assert.equal(o.key, `parley/${id}/${f}`);
      const listed = [meta.mix, meta.stereo!, meta.legs[0]!.stems[0]!].find((e) => e.file === f)!;
      assert.equal(o.sha256, listed.sha256, `${f}: the stored entry's sha256 is the sidecar's`);
    }
    assert.deepEqual([...(stored.removedLocal as string[])].sort(), [...audio].sort());
    // The command line, offline, against the same bucket.
    const config = join(s.dir, '..', 'verify.yaml');
    writeFileSync(config, `recording: ${JSON.stringify({ dir: s.dir, store: storeConfig(s3) })}\nlog: { level: silent }\n`);
    for (const deep of [[], ['--deep']]) {
      const r = await cli(id, ...deep, '--config', config);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`OK      ${id} \\(3 of 3 files checked in s3://recordings/parley/, ${deep.length ? 'downloaded and hashed' : 'by size and sha256 metadata'}\\)`));
    }
  });

  it('a replaced object is reported; one altered with forged metadata is caught by deep; a lost one is missing', async () => {
    const { id, meta } = await recordStored(s, 'tamper');
    const key = `parley/${id}/${meta.mix.file}`;
    const original = await objectBytes(key);
    const other = Buffer.from(original);
    other[other.length - 1] ^= 0x01;
    // Overwritten in the bucket (no Parley metadata).
    await put(key, other);
    let { recording: v } = await s.compliance.verify(id);
    assert.equal(v.ok, false);
    assert.deepEqual(v.problems.map((p) => [p.kind, p.file]), [['stored-mismatch', meta.mix.file]]);
    assert.match(v.problems[0]!.message, /no x-amz-meta-sha256/);
    // Overwritten with the original's sha256 as metadata: only the bytes tell.
    await put(key, other, meta.mix.sha256!);
    ({ recording: v } = await s.compliance.verify(id, undefined, true));
    assert.deepEqual(v.problems.map((p) => [p.kind, p.file]), [['hash-mismatch', meta.mix.file]]);
    assert.match(v.problems[0]!.message, new RegExp(`has sha256 [0-9a-f]{64}, the sidecar says ${meta.mix.sha256} \\(the object was altered\\)`));
    // A different size than the upload logged.
    await put(key, original.subarray(0, original.length - 10), meta.mix.sha256!);
    ({ recording: v } = await s.compliance.verify(id));
    assert.deepEqual(v.problems.map((p) => p.kind), ['stored-mismatch']);
    assert.match(v.problems[0]!.message, new RegExp(`${original.length - 10} bytes, the audit log's 'stored' entry says ${original.length}`));
    // Gone from the bucket too.
    await look.delete(key);
    ({ recording: v } = await s.compliance.verify(id));
    assert.deepEqual(v.problems.map((p) => p.kind), ['missing-file']);
    assert.match(v.problems[0]!.message, /neither on disk nor in the bucket/);
    // Put back as uploaded: it verifies again.
    await put(key, original, meta.mix.sha256!);
    ({ recording: v } = await s.compliance.verify(id, undefined, true));
    assert.equal(v.ok, true, JSON.stringify(v.problems));
  });

  it('a bucket that cannot be reached: "cannot check", not a pass', async () => {
    const { id, audio } = await recordStored(s, 'down');
    s3.mode = 'down';
    try {
      const { recording: v } = await s.compliance.verify(id);
      assert.equal(v.ok, false);
      assert.equal(v.state, 'failed');
      // Each audio file not on disk, and the key file (its bucket copy is compared with the local one).
      assert.deepEqual(v.problems.map((p) => p.kind), [...audio, `${id}.key`].map(() => 'bucket-unreachable'));
      for (const p of v.problems.slice(0, audio.length)) assert.match(p.message, /: not on disk; cannot check: bucket unreachable \(HEAD s3:\/\/recordings\/parley\//);
      assert.match(v.problems.at(-1)!.message, new RegExp(`^${id}\\.key: cannot compare with its bucket copy: bucket unreachable \\(GET s3://recordings/parley/`));
      const config = join(s.dir, '..', 'verify.yaml');
      const r = await cli(id, '--config', config);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`FAILED  ${id}.*\\n.*cannot check: bucket unreachable`));
    } finally {
      s3.mode = 'pass';
    }
  });
});

describe('an encrypted stored recording whose local key file is lost', () => {
  it('verifies while the bucket holds <id>.key (decrypt and the API use it), fails naming the file once neither has it', async () => {
    const dir = join(root, 'nokey');
    const masterHex = randomBytes(32).toString('hex');
    const s = await open(dir, { encrypted: true, masterHex });
    try {
      const { id, meta } = await recordStored(s, 'nokey');
      const keyFile = `${id}.key`;
      rmSync(join(dir, keyFile));
      let { recording: v } = await s.compliance.verify(id);
      assert.equal(v.ok, true, JSON.stringify(v.problems));
      // The API's download falls back to the bucket's key object.
      const d = await openDownload(s.svc, dir, id, meta, meta.mix.file);
      const parts: Buffer[] = [];
      for await (const c of d.stream!) parts.push(c as Buffer);
      assert.equal(d.decrypted, true);
      assert.equal(Buffer.concat(parts).length, d.size);
      // So does `parley recordings decrypt`.
      const masterFile = join(root, 'nokey-master.hex');
      writeFileSync(masterFile, masterHex);
      const config = join(root, 'nokey.yaml');
      writeFileSync(config, `recording: ${JSON.stringify({ dir, store: storeConfig(s3), encryption: { enabled: true, masterKeyFile: masterFile } })}\nlog: { level: silent }\n`);
      const out = join(root, 'nokey-out.wav');
      const dec = await recordingsCli('decrypt', id, meta.mix.file, '--out', out, '--config', config);
      assert.equal(dec.status, 0, dec.stdout + dec.stderr);
      assert.equal(readFileSync(out).length, d.size);
      // Gone from the bucket too: nothing can decrypt it.
      await look.delete(`parley/${id}/${keyFile}`);
      ({ recording: v } = await s.compliance.verify(id));
      assert.deepEqual(v.problems.map((p) => [p.kind, p.file]), [['key-missing', keyFile]]);
      assert.match(v.problems[0]!.message, new RegExp(`${keyFile}: the recording is encrypted and its key file is neither on disk nor in s3://recordings/parley/${id}/${keyFile}`));
      const r = await cli(id, '--config', config);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`FAILED  ${id}.*\\n.*${keyFile}: the recording is encrypted`));
      await assert.rejects(openDownload(s.svc, dir, id, meta, meta.mix.file), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.equal(e.status, 409);
        assert.equal(e.code, 'key_missing');
        assert.match(e.message, new RegExp(`no key file ${keyFile}, neither on disk nor in s3://`));
        return true;
      });
      // Without recording.store: the missing key file alone fails it.
      const local = await verifyRecording({ dir, id, key: null, audit: null, store: null });
      assert.ok(local.problems.some((p) => p.kind === 'key-missing' && p.file === keyFile), JSON.stringify(local.problems));
    } finally {
      s.close();
    }
  });
});

describe('compliance of stored recordings: retention', () => {
  it('deletes the sidecar and the objects of an expired stored recording, keeps a held one, waits out a bucket down', async () => {
    const s = await open(join(root, 'retention'), { days: 1 });
    try {
      const expired = await recordStored(s, 'expired');
      const held = await recordStored(s, 'held');
      await s.compliance.hold(held.id, 'api:test', 'litigation');
      await s.compliance.index.ready;
      const later = Date.now() + 2 * 86_400_000;
      const keysOf = async (id: string) => (await look.listRecording(id)).map((o) => o.key).sort();
      const expiredKeys = await keysOf(expired.id);
      assert.equal(expiredKeys.length, 5, `audio, sidecar, signature: ${expiredKeys.join(', ')}`);
      const heldKeys = await keysOf(held.id);

      // Bucket down: nothing deleted, nothing logged as deleted; retried at the next sweep.
      s3.mode = 'down';
      try {
        assert.deepEqual(await s.compliance.sweeper.sweep(later), []);
      } finally {
        s3.mode = 'pass';
      }
      assert.ok(existsSync(join(s.dir, `${expired.id}.json`)));
      assert.deepEqual(await keysOf(expired.id), expiredKeys);
      assert.equal(auditEntries(s.dir).filter((e) => e.event === 'deleted' || e.event === 'delete.failed').length, 0);

      assert.deepEqual(await s.compliance.sweeper.sweep(later), [expired.id]);
      for (const f of [`${expired.id}.json`, `${expired.id}.json.sig`]) assert.equal(existsSync(join(s.dir, f)), false, `${f} removed locally`);
      assert.deepEqual(await keysOf(expired.id), [], 'its objects are gone from the bucket');
      // The held one: untouched, here and in the bucket, and it still verifies.
      assert.ok(existsSync(join(s.dir, `${held.id}.json`)));
      assert.deepEqual(await keysOf(held.id), heldKeys);
      const { recording: hv } = await s.compliance.verify(held.id, undefined, true);
      assert.equal(hv.ok, true, JSON.stringify(hv.problems));

      await s.compliance.settled();
      const events = auditEntries(s.dir, expired.id).map((e) => e.event);
      assert.deepEqual(events, ['created', 'finalized', 'stored', 'deleted']);
      const deleted = auditEntries(s.dir, expired.id).find((e) => e.event === 'deleted')!;
      assert.equal(deleted.actor, 'retention');
      assert.equal(deleted.bucket, 'recordings');
      const objects = deleted.objects as { key: string; size: number; sha256: string }[];
      assert.deepEqual(objects.map((o) => o.key).sort(), expiredKeys);
      const mixObj = objects.find((o) => o.key.endsWith(expired.meta.mix.file))!;
      assert.equal(mixObj.sha256, expired.meta.mix.sha256);
      const { recording: dv } = await s.compliance.verify(expired.id);
      assert.equal(dv.state, 'deleted');
    } finally {
      s.close();
    }
  });
});

describe('compliance of stored recordings: through the API of a running Parley', () => {
  it('GET /recordings/:id/verify checks the bucket (deep too) and says when it cannot', async () => {
    const state = join(mkdtempSync(join(tmpdir(), 'parley-api-')), 'rules.json');
    const parley = await startParley(apiYaml(state), { recording: { extra: `store: ${JSON.stringify(storeConfig(s3))}` } });
    try {
      const base = apiBase(parley);
      const recs = parley.app.recordings!;
      const rec = recs.createRecorder({ roomId: 'api', sampleRate: 16000 });
      rec.addLeg('a', { uri: 'sip:alice@example.com', callId: 'cid-api', role: 'caller' });
      const tones = new ToneRoom(16000);
      tones.legs.set('a', 440);
      tones.feed(rec, 300);
      const stored = recs.store!.waitFor('stored', 30_000);
      rec.close();
      const meta = await rec.finalized;
      await stored;
      await parley.app.compliance!.settled();
      assert.equal(existsSync(join(parley.recordingDir, meta.mix.file)), false);
      for (const q of ['', '?deep=true']) {
        const v = await call(base, 'GET', `/recordings/${rec.id}/verify${q}`);
        assert.equal(v.status, 200, `${q}: ${JSON.stringify(v.body)}`);
        const body = v.body as { ok: boolean; files: { file: string; stored: boolean; ok: boolean }[]; problems: unknown[] };
        assert.equal(body.ok, true, `${q}: ${JSON.stringify(body.problems)}`);
        assert.equal(body.files.filter((f) => f.stored && f.ok).length, 3);
      }
      // A download from the bucket logs the sha256 of the bytes sent; an object altered
      // after its upload (its sha256 metadata forged) is refused, and the refusal logged.
      const key = `parley/${rec.id}/${meta.mix.file}`;
      const original = await objectBytes(key);
      let dl = await call(base, 'GET', `/recordings/${rec.id}/files/${meta.mix.file}`);
      assert.equal(dl.status, 200);
      let e = auditEntries(parley.recordingDir, rec.id).findLast((x) => x.event === 'exported')!;
      assert.deepEqual([e.file, e.sha256, e.from], [meta.mix.file, meta.mix.sha256, 'bucket']);
      // A part of it: the whole object checked first, the part cut from the checked copy.
      const ranged = (): Promise<Response> => fetch(`${base}/recordings/${rec.id}/files/${meta.mix.file}`, { headers: { authorization: `Bearer ${TEST_TOKEN}`, range: 'bytes=100-199' } });
      let part = await ranged();
      assert.equal(part.status, 206);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), original.subarray(100, 200));
      e = auditEntries(parley.recordingDir, rec.id).at(-1)!;
      assert.deepEqual([e.event, e.sha256, e.from, e.range], ['exported', meta.mix.sha256, 'bucket', `bytes=100-199/${original.length}`]);
      const other = Buffer.from(original);
      other[3000] ^= 0x55;
      await put(key, other, meta.mix.sha256!);
      const actual = createHash('sha256').update(other).digest('hex');
      dl = await call(base, 'GET', `/recordings/${rec.id}/files/${meta.mix.file}`);
      assert.equal(dl.status, 409, dl.text);
      assert.match(dl.text, new RegExp(`sha256 ${actual}, the sidecar says ${meta.mix.sha256}: its object in recording.store was altered`));
      e = auditEntries(parley.recordingDir, rec.id).at(-1)!;
      assert.deepEqual([e.event, e.file, e.sha256, e.expected, e.from], ['export.refused', meta.mix.file, actual, meta.mix.sha256, 'bucket']);
      part = await ranged();
      assert.equal(part.status, 409, 'not even a part of an altered object');
      await part.text();
      e = auditEntries(parley.recordingDir, rec.id).at(-1)!;
      assert.deepEqual([e.event, e.sha256, e.range], ['export.refused', actual, `bytes=100-199/${original.length}`]);
      await put(key, original, meta.mix.sha256!);
      s3.mode = 'down';
      try {
        const v = await call(base, 'GET', `/recordings/${rec.id}/verify`);
        const body = v.body as { ok: boolean; problems: { kind: string; message: string }[] };
        assert.equal(body.ok, false);
        assert.deepEqual([...new Set(body.problems.map((p) => p.kind))], ['bucket-unreachable']);
        assert.match(body.problems[0]!.message, /cannot check: bucket unreachable/);
      } finally {
        s3.mode = 'pass';
      }
    } finally {
      await parley.stop();
    }
  });
});

// Deleting recordings kept in object storage (a real s3rver behind the test gate),
// against encryption and the upload journal:
// - retention removes the key file `<id>.key` too (locally and in the bucket, listed in
//   the `deleted` entry), also for a recording released from legal hold; `rotate-key`
//   afterwards re-wraps and uploads nothing of a deleted recording, even a key file an
//   older Parley left behind;
// - retention waits for a recording whose upload is pending and deletes it once stored:
//   never a `stored` entry, a 'stored' event or an object after `deleted`;
// - an explicit delete cancels the pending upload and removes what it had uploaded;
// - the uploader drops a journal entry whose recording is gone instead of uploading it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rotateKeyCommand } from '../../../src/cli/recordings-keys.ts';
import type { RecordingStoreConfig } from '../../../src/config/recording-store-schema.ts';
import type { ParleyConfig } from '../../../src/config/schema.ts';
import type { AuditEntry } from '../../../src/recording/compliance/audit-log.ts';
import { ComplianceService } from '../../../src/recording/compliance/compliance-service.ts';
import { verifyRecording } from '../../../src/recording/compliance/recording-verifier.ts';
import { loadMasterKey } from '../../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../../src/recording/encryption/recording-encryption.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { RecordingUploader, type StoredRecording } from '../../../src/recording/store/recording-uploader.ts';
import { S3Bucket } from '../../../src/recording/store/s3-bucket.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { startS3, storeConfig, type S3TestServer } from '../../helpers/s3-server.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-rstore-'));
const oldKey = join(root, 'master-old.key');
const newKey = join(root, 'master.key');
writeFileSync(oldKey, randomBytes(32).toString('hex'));
writeFileSync(newKey, randomBytes(32).toString('hex'));
// A key file to leave behind without its recording, as an older Parley did.
const strayKey = join(root, 'stray.key');
writeFileSync(strayKey, JSON.stringify({ version: 1, recording: 'rec-gone-0001', scheme: 'aes-256-gcm-chunked-v1', keyId: 'x', wrapped: '', createdAt: '', rotatedAt: null }));
const DAY = 86_400_000;
let s3: S3TestServer;
let look: S3Bucket;
before(async () => {
  s3 = await startS3();
  look = new S3Bucket({ ...(storeConfig(s3) as unknown as RecordingStoreConfig), endpoint: s3.directEndpoint });
});
after(async () => {
  look.close();
  await s3.stop();
  rmSync(root, { recursive: true, force: true });
});

interface Setup {
  dir: string;
  config: RecordingStoreConfig;
  svc: RecordingService;
  store: RecordingUploader;
  compliance: ComplianceService;
  stored: StoredRecording[];
  close(): void;
}

async function open(name: string, extra: Record<string, unknown> = {}): Promise<Setup> {
  const dir = join(root, name);
  const config = { ...storeConfig(s3, extra), journalFile: join(dir, '.uploads.json') } as RecordingStoreConfig;
  const store = new RecordingUploader({ dir, config, log: silentLogger() });
  const encryption = new RecordingEncryption(await loadMasterKey({ masterKeyFile: oldKey }));
  const svc = new RecordingService({ dir, postProcess: 'none', encryption, store, log: silentLogger() });
  const compliance = await ComplianceService.start({ dir, keyFile: null, auditLog: null, retention: { days: 1, sweepIntervalSec: 0 }, log: silentLogger() });
  compliance.attach(svc);
  await store.start();
  const stored: StoredRecording[] = [];
  store.on('stored', (r) => stored.push(r));
  return {
    dir,
    config,
    svc,
    store,
    compliance,
    stored,
    close: () => {
      store.close();
      svc.close();
      compliance.close();
    },
  };
}

/** A finalized, signed recording; resolves once it is stored or (`failing`) once an upload attempt failed. */
async function record(s: Setup, room: string, failing = false): Promise<{ id: string; meta: RecordingMetadata }> {
  const rec = s.svc.createRecorder({ roomId: room, sampleRate: 16000 });
  rec.addLeg('a', { uri: 'sip:alice@example.com', callId: `cid-${room}`, role: 'caller' });
  const tones = new ToneRoom(16000);
  tones.legs.set('a', 440);
  tones.feed(rec, 400);
  const done = new Promise<void>((resolve) => {
    const on = (r: { id: string }): void => {
      if (r.id !== rec.id) return;
      s.store.off(failing ? 'uploadFailed' : 'stored', on);
      resolve();
    };
    s.store.on(failing ? 'uploadFailed' : 'stored', on);
  });
  rec.close();
  const meta = await rec.finalized;
  await done;
  await s.compliance.settled();
  await s.compliance.index.ready;
  assert.ok(meta.encryption, 'encrypted');
  return { id: rec.id, meta };
}

function audit(dir: string, id: string): AuditEntry[] {
  return readFileSync(join(dir, '.parley', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEntry)
    .filter((e) => e.recording === id);
}

/** The gate answers 500 to PUTs while `failing()` (HEADs, lists and DELETEs work): uploads fail, deletes do not. */
function failPuts(failing: (url: string) => boolean): void {
  s3.observe = (req) => {
    s3.mode = req.method === 'PUT' && failing(req.url ?? '') ? 'fail500' : 'pass';
  };
}

function passAll(): void {
  s3.observe = null;
  s3.mode = 'pass';
}

const keysOf = async (id: string): Promise<string[]> => (await look.listRecording(id)).map((o) => o.key).sort();

function rotate(s: Setup): Promise<string> {
  const config = { recording: { dir: s.dir, encryption: { enabled: true, masterKeyFile: newKey }, store: s.config } } as unknown as ParleyConfig;
  return rotateKeyCommand(config, oldKey, undefined);
}

describe('retention and the key file of an encrypted stored recording', () => {
  it('the key file goes with the recording (expired, or released from hold); rotate-key then uploads nothing for it', async () => {
    const s = await open('keys');
    try {
      const expired = await record(s, 'expired');
      const held = await record(s, 'held');
      for (const r of [expired, held]) assert.ok((await keysOf(r.id)).includes(`parley/${r.id}/${r.id}.key`), 'the key file was uploaded');
      const expiredKey = readFileSync(join(s.dir, `${expired.id}.key`));
      await s.compliance.hold(held.id, 'api:test', null);
      const later = Date.now() + 2 * DAY;
      assert.deepEqual(await s.compliance.sweeper.sweep(later), [expired.id]);
      assert.ok(existsSync(join(s.dir, `${held.id}.key`)), 'a held recording keeps its key file');
      await s.compliance.release(held.id, 'api:test', null);
      assert.deepEqual(await s.compliance.sweeper.sweep(later), [held.id]);
      await s.compliance.settled();
      for (const r of [expired, held]) {
        assert.equal(existsSync(join(s.dir, `${r.id}.key`)), false, `${r.id}.key removed locally`);
        assert.deepEqual(await keysOf(r.id), [], 'no object left, the key file neither');
        const deleted = audit(s.dir, r.id).find((e) => e.event === 'deleted');
        assert.ok(deleted);
        const files = (deleted.files as { file: string; sha256: string }[]).map((f) => f.file);
        assert.ok(files.includes(`${r.id}.key`), `the deleted entry lists the key file: ${files.join(', ')}`);
        assert.ok((deleted.objects as { key: string }[]).some((o) => o.key === `parley/${r.id}/${r.id}.key`), 'and its object');
      }
      // Rotation afterwards: nothing of the deleted recordings is re-wrapped or uploaded.
      const out = await rotate(s);
      assert.match(out, /^0 data keys re-wrapped/);
      for (const r of [expired, held]) assert.deepEqual(await keysOf(r.id), []);
      // A key file an older Parley left behind (its sidecar gone): left alone, not uploaded.
      writeFileSync(join(s.dir, `${expired.id}.key`), expiredKey);
      const out2 = await rotate(s);
      assert.match(out2, /^0 data keys re-wrapped/);
      assert.match(out2, new RegExp(`1 key files of deleted recordings \\(no sidecar\\) left as they are, not uploaded: ${expired.id}\\.key`));
      assert.deepEqual(await keysOf(expired.id), []);
    } finally {
      s.close();
    }
  });
});

describe('rotate-key and the bucket copies of the key files', () => {
  it('a rotation whose upload failed (bucket down) is completed by a re-run; verify reports a bucket key file that differs', async () => {
    const s = await open('rotate-down');
    try {
      const r = await record(s, 'rotate-down');
      const objectKey = `parley/${r.id}/${r.id}.key`;
      const stored = async (): Promise<string> => {
        const got = await look.get(objectKey);
        const parts: Buffer[] = [];
        for await (const c of got!.stream) parts.push(c as Buffer);
        return Buffer.concat(parts).toString('utf8');
      };
      const oldId = (JSON.parse(await stored()) as { keyId: string }).keyId;
      s3.mode = 'down';
      try {
        await assert.rejects(rotate(s), /1 data keys re-wrapped[\s\S]*run rotate-key again once the bucket is reachable/);
      } finally {
        passAll();
      }
      const local = readFileSync(join(s.dir, `${r.id}.key`), 'utf8');
      const newId = (JSON.parse(local) as { keyId: string }).keyId;
      assert.notEqual(newId, oldId);
      assert.equal((JSON.parse(await stored()) as { keyId: string }).keyId, oldId, 'the bucket still has the old key file');
      const v = await verifyRecording({ dir: s.dir, id: r.id, key: null, audit: null, store: { bucket: look, deep: false } });
      assert.equal(v.state, 'failed');
      assert.ok(
        v.problems.some((p) => p.kind === 'stored-mismatch' && p.file === `${r.id}.key` && p.expected === newId && p.actual === oldId),
        JSON.stringify(v.problems),
      );
      const out = await rotate(s);
      assert.match(out, /^0 data keys re-wrapped .*, 1 already under it, 0 failed/);
      assert.match(out, /1 key files uploaded again/);
      assert.equal(await stored(), local, 'the bucket now has the re-wrapped key file');
      const v2 = await verifyRecording({ dir: s.dir, id: r.id, key: null, audit: null, store: { bucket: look, deep: true } });
      assert.ok(!v2.problems.some((p) => p.file === `${r.id}.key`), JSON.stringify(v2.problems));
      assert.match(await rotate(s), /0 key files uploaded again/);
    } finally {
      s.close();
    }
  });
});

describe('retention and explicit deletes against pending uploads', () => {
  it('retention waits while the upload is pending and deletes the recording once stored; no stored after deleted', async () => {
    const s = await open('pending');
    try {
      failPuts(() => true);
      let r: { id: string; meta: RecordingMetadata };
      try {
        r = await record(s, 'pending', true);
        assert.deepEqual(await s.compliance.sweeper.sweep(Date.now() + 2 * DAY), [], 'not deleted while its upload is pending');
        assert.ok(existsSync(join(s.dir, `${r.id}.json`)));
        assert.ok(existsSync(join(s.dir, `${r.id}.key`)));
      } finally {
        passAll();
      }
      await s.store.waitFor('stored', 30_000);
      await s.compliance.settled();
      assert.deepEqual(await s.compliance.sweeper.sweep(Date.now() + 2 * DAY), [r.id]);
      await new Promise((res) => setTimeout(res, 1500)); // past any retry the uploader could still make
      await s.store.idle();
      await s.compliance.settled();
      assert.deepEqual(audit(s.dir, r.id).map((e) => e.event), ['created', 'finalized', 'stored', 'deleted']);
      assert.deepEqual(await keysOf(r.id), []);
      assert.equal(s.store.pending, 0);
      assert.equal(s.stored.filter((x) => x.id === r.id).length, 1);
    } finally {
      s.close();
    }
  });

  it('an explicit delete cancels the pending upload and removes the objects it had uploaded', async () => {
    // A long back-off: the failed upload stays pending while the test deletes it.
    const s = await open('explicit', { retryBaseMs: 60_000, retryMaxMs: 60_000 });
    // The audio and the key file go up; the signature's PUT fails (and the sidecar is not sent).
    failPuts((url) => url.includes('.json.sig'));
    let r: { id: string; meta: RecordingMetadata };
    try {
      r = await record(s, 'explicit', true);
    } finally {
      passAll();
    }
    try {
      const uploaded = await keysOf(r.id);
      assert.ok(uploaded.includes(`parley/${r.id}/${r.id}.key`), `some objects are up: ${uploaded.join(', ')}`);
      assert.equal(s.store.pending, 1);
      assert.equal(await s.compliance.delete(r.id, 'api:test'), true);
      await s.compliance.settled();
      assert.equal(s.store.pending, 0, 'the pending upload is cancelled');
      assert.deepEqual(await keysOf(r.id), [], 'what it had uploaded is removed');
      const journal = JSON.parse(readFileSync(s.config.journalFile!, 'utf8')) as { pending: { id: string }[] };
      assert.deepEqual(journal.pending, []);
      for (const f of [`${r.id}.json`, `${r.id}.key`, `${r.id}.json.sig`]) assert.equal(existsSync(join(s.dir, f)), false, `${f} removed`);
      const deleted = audit(s.dir, r.id).find((e) => e.event === 'deleted')!;
      assert.deepEqual((deleted.objects as { key: string }[]).map((o) => o.key).sort(), uploaded);
      await s.store.idle();
      assert.deepEqual(audit(s.dir, r.id).map((e) => e.event), ['created', 'finalized', 'deleted']);
      assert.equal(s.stored.length, 0);
    } finally {
      s.close();
    }
  });

  it('a journal entry whose recording is gone (deleted by an older Parley) is dropped, not uploaded', async () => {
    const dir = join(root, 'orphan-journal');
    mkdirSync(dir, { recursive: true });
    const id = 'rec-gone-0001';
    copyFileSync(strayKey, join(dir, `${id}.key`));
    const journalFile = join(dir, '.uploads.json');
    const entry = { id, files: [`${id}.mix.wav`, `${id}.key`, `${id}.json`], addedAt: new Date().toISOString(), attempts: 3, lastError: 'gate' };
    writeFileSync(journalFile, JSON.stringify({ version: 1, pending: [entry] }));
    const store = new RecordingUploader({ dir, config: { ...storeConfig(s3), journalFile } as RecordingStoreConfig, log: silentLogger() });
    const stored: StoredRecording[] = [];
    store.on('stored', (x) => stored.push(x));
    try {
      assert.equal(await store.start(), 1);
      await new Promise((res) => setTimeout(res, 200));
      await store.idle();
      assert.equal(stored.length, 0, 'nothing reported');
      assert.deepEqual(await keysOf(id), [], 'nothing uploaded');
      assert.equal(store.pending, 0);
    } finally {
      store.close();
    }
  });
});

// The compliance parts alone (issue 17): canonical JSON, the signing key on disk,
// the audit log's batching, crash repair and truncation evidence, the index's
// journal (corrupt → rebuilt, stale → reconciled, hand-placed sidecars noticed),
// retention precedence and the config keys.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/load-config.ts';
import { AuditLog, type AuditEntry } from '../../../src/recording/compliance/audit-log.ts';
import { verifyAuditLog } from '../../../src/recording/compliance/audit-verify.ts';
import { canonicalJson, signedSidecarText } from '../../../src/recording/compliance/canonical-json.ts';
import { normalizeUri } from '../../../src/recording/compliance/index-entry.ts';
import { RecordingIndex, type RecordingQuery } from '../../../src/recording/compliance/recording-index.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { resolveRetention } from '../../../src/recording/compliance/retention-policy.ts';
import { checkSignature, readSignature, signatureFile, signSidecar, writeSignature } from '../../../src/recording/compliance/sidecar-signature.ts';
import { SigningKey } from '../../../src/recording/compliance/signing-key.ts';
import { recordingIo } from '../../../src/recording/io/recording-io.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { waitFor } from '../../helpers/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-compliance-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));
const log = silentLogger();

const lines = (file: string): AuditEntry[] => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as AuditEntry);

function sidecar(id: string, startedAt: string, legs: { uri: string; originalTo?: string }[] = []): string {
  return JSON.stringify({
    version: 1,
    room: id,
    state: 'finalized',
    startedAt,
    endedAt: startedAt,
    mix: { file: `${id}.mix.wav`, channels: 1, sampleRate: 16000, durationMs: 0, sha256: null },
    legs: legs.map((l, i) => ({ id: `l${i}`, uri: l.uri, originalTo: l.originalTo ?? null, role: i === 0 ? 'caller' : 'other', stems: [] })),
  });
}

describe('canonical JSON', () => {
  it('is the same for any key order and layout, and leaves updatedAt out of what is signed', () => {
    assert.equal(canonicalJson({ b: [1, { d: 'x', c: null }], a: true }), '{"a":true,"b":[1,{"c":null,"d":"x"}]}');
    assert.equal(signedSidecarText({ x: 1, updatedAt: 'now' }), signedSidecarText({ updatedAt: 'later', x: 1 }));
    assert.notEqual(signedSidecarText({ x: 1 }), signedSidecarText({ x: 2 }));
  });
});

describe('signing key', () => {
  it('is generated once, 0600, and read back the same; a bad configured key names the config key', async () => {
    const path = join(root, 'keys', 'k.pem');
    const a = await SigningKey.load(null, path);
    assert.equal(a.generated, true);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const b = await SigningKey.load(null, path);
    assert.equal(b.generated, false);
    assert.equal(b.id, a.id);
    assert.ok(b.verify('x', a.sign('x')));
    await assert.rejects(SigningKey.load(join(root, 'none.pem'), path), /recording\.signing\.keyFile: cannot read/);
    writeFileSync(join(root, 'junk.pem'), 'not a key');
    await assert.rejects(SigningKey.load(join(root, 'junk.pem'), path), /recording\.signing\.keyFile: not a PEM private key/);
  });
});

describe('audit log', () => {
  const key = SigningKey.ephemeral();

  it('chains appends made together in one batch, in order, and verifies', async () => {
    const file = join(root, 'a1', 'audit.jsonl');
    const audit = await AuditLog.open(file, key, log);
    const done = await Promise.all(Array.from({ length: 50 }, (_, i) => audit.append('created', `r${i}`, 'parley')));
    assert.deepEqual(done.map((e) => e.seq), Array.from({ length: 50 }, (_, i) => i + 1));
    await audit.settled();
    const report = await verifyAuditLog(file, key);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.lines, 50);
    audit.close();
    await audit.settled();
  });

  it('writes its signed head and a sidecar signature through the recording I/O thread (0600 and 0644, no temp file left once closed), not through libuv pool calls', async () => {
    const dir = join(root, 'a-io');
    const file = join(dir, 'audit.jsonl');
    const io = recordingIo();
    const seen: Array<{ path: string; mode: number | undefined; keepTemp: boolean }> = [];
    const original = io.writeAtomic;
    io.writeAtomic = function (path: string, text: string, mode?: number, keepTemp = false) {
      seen.push({ path, mode, keepTemp });
      return original.call(this, path, text, mode, keepTemp);
    };
    try {
      const audit = await AuditLog.open(file, key, log);
      await audit.append('created', 'r1', 'parley');
      await audit.settled();
      const sigPath = join(dir, signatureFile('r1'));
      const meta = JSON.parse(sidecar('r1', '2026-12-03T00:00:00.000Z')) as RecordingMetadata;
      await writeSignature(sigPath, signSidecar('r1', meta, key));
      assert.deepEqual(seen.slice(0, 2), [
        { path: `${file}.head`, mode: 0o600, keepTemp: true },
        { path: sigPath, mode: 0o644, keepTemp: false },
      ]);
      const head = JSON.parse(readFileSync(`${file}.head`, 'utf8')) as { seq: number };
      assert.equal(head.seq, 1);
      assert.equal(statSync(`${file}.head`).mode & 0o777, 0o600);
      assert.equal(statSync(sigPath).mode & 0o777, 0o644 & ~process.umask());
      assert.deepEqual(checkSignature(meta, (await readSignature(sigPath))!, key), { ok: true });
      // While the log is open, the head's temp file is kept for its next rewrite (from the second on).
      await audit.append('exported', 'r1', 'parley');
      await audit.settled();
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), ['audit.jsonl.head.tmp']);
      assert.equal(statSync(`${file}.head.tmp`).mode & 0o777, 0o600);
      assert.equal((await verifyAuditLog(file, key)).ok, true);
      audit.close();
      await audit.settled();
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
      assert.equal(seen.at(-1)?.keepTemp, false);
      assert.equal((JSON.parse(readFileSync(`${file}.head`, 'utf8')) as { seq: number }).seq, 2);
      assert.equal(statSync(`${file}.head`).mode & 0o777, 0o600);
    } finally {
      io.writeAtomic = original;
    }
  });

  it('rewrites its head over the same two inodes, allocating and freeing none (ext4 without a journal skips recently freed inodes one by one at every create)', async () => {
    const dir = join(root, 'a-inodes');
    const file = join(dir, 'audit.jsonl');
    const audit = await AuditLog.open(file, key, log);
    const inodes = new Set<number>();
    for (let i = 0; i < 6; i++) {
      await audit.append('created', `r${i}`, 'parley');
      await audit.settled();
      inodes.add(statSync(`${file}.head`).ino);
      // The first head has no temp file yet; every rewrite after it keeps one.
      if (i > 0) inodes.add(statSync(`${file}.head.tmp`).ino);
      assert.equal((JSON.parse(readFileSync(`${file}.head`, 'utf8')) as { seq: number }).seq, i + 1);
    }
    assert.equal(inodes.size, 2, `head inodes used: ${[...inodes].join(', ')}`);
    assert.equal((await verifyAuditLog(file, key)).ok, true);
    audit.close();
    await audit.settled();
    assert.deepEqual(readdirSync(dir).sort(), ['audit.jsonl', 'audit.jsonl.head']);
    assert.equal((await verifyAuditLog(file, key)).ok, true);
  });

  it('appends through the recording I/O thread (a positional write and an fsync), not libuv pool calls; a thread that dies after the write leaves no line twice', async () => {
    const file = join(root, 'a-append', 'audit.jsonl');
    const io = recordingIo();
    const calls: string[] = [];
    const { write, sync } = io;
    io.write = function (fd, buf, offset, length, position) {
      calls.push(`write@${position}`);
      return write.call(this, fd, buf, offset, length, position);
    };
    io.sync = function (fd) {
      calls.push('sync');
      return sync.call(this, fd);
    };
    // A FileHandle's write or datasync would be a libuv pool call from the main thread.
    const probe = await open(join(root, 'probe'), 'w');
    const fhProto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => unknown; datasync: () => unknown };
    await probe.close();
    const fhWrite = fhProto.write;
    const fhSync = fhProto.datasync;
    let poolCalls = 0;
    fhProto.write = function (...a: unknown[]) {
      poolCalls++;
      return fhWrite.apply(this, a);
    };
    fhProto.datasync = function () {
      poolCalls++;
      return fhSync.call(this);
    };
    try {
      const audit = await AuditLog.open(file, key, log);
      await audit.append('created', 'r1', 'parley');
      const first = statSync(file).size;
      assert.deepEqual(calls, ['write@0', 'sync']);
      const deaths = io.threadDeaths;
      io.exitAfterNext('write');
      await Promise.all([audit.append('created', 'r2', 'parley'), audit.append('finalized', 'r1', 'parley')]);
      assert.equal(io.threadDeaths, deaths + 1);
      assert.deepEqual(calls.slice(2), [`write@${first}`, 'sync']);
      assert.equal(poolCalls, 0);
      await audit.settled();
      assert.deepEqual(lines(file).map((e) => [e.seq, e.event, e.recording]), [[1, 'created', 'r1'], [2, 'created', 'r2'], [3, 'finalized', 'r1']]);
      assert.equal((await verifyAuditLog(file, key)).ok, true);
      audit.close();
      await audit.settled();
    } finally {
      io.write = write;
      io.sync = sync;
      fhProto.write = fhWrite;
      fhProto.datasync = fhSync;
    }
  });

  it('cuts off a line a crash left unfinished, says so in the log, and the chain goes on', async () => {
    const file = join(root, 'a2', 'audit.jsonl');
    let audit = await AuditLog.open(file, key, log);
    await audit.append('created', 'r1', 'parley');
    audit.close();
    await audit.settled();
    appendFileSync(file, '{"seq":2,"at":"2026-');
    audit = await AuditLog.open(file, key, log);
    await audit.append('finalized', 'r1', 'parley');
    await audit.settled();
    assert.deepEqual(lines(file).map((e) => e.event), ['created', 'audit.repaired', 'finalized']);
    assert.equal(lines(file)[1]!.discardedBytes, 20);
    assert.equal((await verifyAuditLog(file, key)).ok, true);
    audit.close();
    await audit.settled();
  });

  it('a log cut short while stopped is noticed at the next start and stays reported', async () => {
    const file = join(root, 'a3', 'audit.jsonl');
    let audit = await AuditLog.open(file, key, log);
    for (let i = 0; i < 3; i++) await audit.append('created', `r${i}`, 'parley');
    audit.close();
    await audit.settled();
    const text = readFileSync(file, 'utf8');
    truncateSync(file, text.indexOf('\n') + 1);
    audit = await AuditLog.open(file, key, log);
    await audit.append('created', 'r9', 'parley');
    await audit.settled();
    const report = await verifyAuditLog(file, key);
    assert.deepEqual(report.problems.map((p) => [p.kind, p.line]), [['audit-truncated', 2]]);
    assert.match(report.problems[0]!.message, /ended at seq 1 but its signed head said seq 3/);
    audit.close();
    await audit.settled();
  });
});

describe('recordings index', () => {
  it('rebuilds a corrupt journal from the sidecars, drops vanished ones, notices hand-placed ones', async () => {
    const dir = join(root, 'idx');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.json'), sidecar('a', '2026-12-01T10:00:00.000Z', [{ uri: 'sip:Alice@Example.com', originalTo: 'sip:desk@example.com' }]));
    writeFileSync(join(dir, 'b.json'), sidecar('b', '2026-12-01T11:00:00.000Z'));
    const journal = join(dir, '.parley', 'index.jsonl');
    let idx = new RecordingIndex(dir, journal, log);
    await idx.open();
    assert.equal(idx.size, 2);
    assert.equal(idx.stats.rebuilt, true);
    idx.close();
    await idx.flushed();
    // A journal entry whose sidecar is gone is dropped; a garbage line in the middle means rebuild.
    rmSync(join(dir, 'b.json'));
    idx = new RecordingIndex(dir, journal, log);
    await idx.open();
    assert.deepEqual([idx.size, idx.stats.fromJournal, idx.stats.dropped], [1, 2, 1]);
    idx.close();
    await idx.flushed();
    writeFileSync(journal, '{"v":1}\nnot json\n{"p":{"id":"zzz"}}\n');
    idx = new RecordingIndex(dir, journal, log);
    await idx.open();
    assert.deepEqual([idx.size, idx.stats.rebuilt], [1, true]);
    assert.equal(idx.get('zzz'), undefined);
    writeFileSync(join(dir, 'c.json'), sidecar('c', '2026-12-01T12:00:00.000Z', [{ uri: 'sip:carol@example.com' }]));
    for (let i = 0; i < 100 && !idx.get('c'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      await idx.settled();
    }
    assert.ok(idx.get('c'), 'the hand-placed sidecar is in the index');
    assert.deepEqual(idx.query({ limit: 10, participant: '<sip:ALICE@example.com;transport=tcp>' }).entries.map((e) => e.id), ['a']);
    const first = idx.query({ limit: 1 });
    assert.deepEqual(first.entries.map((e) => e.id), ['c']);
    assert.deepEqual(idx.query({ limit: 1, cursor: first.next! }).entries.map((e) => e.id), ['a']);
    idx.close();
  });

  it('a known sidecar removed while running leaves the index at the next recheck: one sizes call to the recording I/O thread for the changed ones', async () => {
    const dir = join(root, 'idx-vanish');
    mkdirSync(dir, { recursive: true });
    for (const id of ['v1', 'v2']) writeFileSync(join(dir, `${id}.json`), sidecar(id, '2026-12-01T10:00:00.000Z'));
    const idx = new RecordingIndex(dir, join(dir, '.parley', 'index.jsonl'), log);
    await idx.open();
    assert.equal(idx.size, 2);
    const io = recordingIo();
    const asked: string[][] = [];
    const { sizes } = io;
    io.sizes = function (paths: string[]) {
      asked.push(paths);
      return sizes.call(this, paths);
    };
    try {
      // Rewritten as a recording in progress does (the watch sees both), then one of them removed.
      for (const id of ['v1', 'v2']) writeFileSync(join(dir, `${id}.json`), sidecar(id, '2026-12-01T10:00:00.000Z'));
      rmSync(join(dir, 'v1.json'));
      await waitFor('v1 to leave the index', () => idx.get('v1') === undefined || undefined, 60_000);
      assert.ok(idx.get('v2'), 'the sidecar still there stays');
      assert.deepEqual(asked.map((a) => a.map((f) => f.slice(dir.length + 1)).sort()), [['v1.json', 'v2.json']]);
    } finally {
      io.sizes = sizes;
      idx.close();
      await idx.flushed();
    }
  });

  it('appends its journal through the recording I/O thread (the folder made when missing); a new index reads the puts back', async () => {
    const dir = join(root, 'idx-io');
    mkdirSync(dir, { recursive: true });
    const journal = join(dir, 'not-yet', 'index.jsonl');
    const io = recordingIo();
    const appended: string[] = [];
    const original = io.append;
    io.append = function (path: string, text: string) {
      appended.push(path);
      return original.call(this, path, text);
    };
    try {
      const idx = new RecordingIndex(dir, journal, log);
      for (const id of ['j1', 'j2', 'j3']) {
        writeFileSync(join(dir, `${id}.json`), sidecar(id, '2026-12-01T10:00:00.000Z'));
        assert.ok(idx.putMeta(id, JSON.parse(sidecar(id, '2026-12-01T10:00:00.000Z')) as RecordingMetadata));
      }
      await idx.flushed();
      idx.close();
      assert.ok(appended.length >= 1 && appended.every((p) => p === journal), JSON.stringify(appended));
      assert.deepEqual(readFileSync(journal, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { p?: { id: string } }).p?.id), ['j1', 'j2', 'j3']);
      const again = new RecordingIndex(dir, journal, log);
      await again.open();
      assert.deepEqual([again.size, again.stats.fromJournal, again.stats.rebuilt], [3, 3, false]);
      again.close();
      await again.flushed();
    } finally {
      io.append = original;
    }
  });

  it('finds SIPREC sessions by participant AOR, group id and session id; journal entries of other recordings stay as they were', () => {
    const siprec = (id: string, group: string | null, session: string | null, aors: string[]): RecordingMetadata =>
      ({
        ...(JSON.parse(sidecar(id, '2026-12-01T10:00:00.000Z', [{ uri: 'sip:s0@src.invalid' }])) as RecordingMetadata),
        siprec: { groupId: group, sessionId: session, participants: aors.map((aor) => ({ id: null, aor, name: null, sends: [] })) },
      }) as unknown as RecordingMetadata;
    const idx = new RecordingIndex(join(root, 'idx-siprec'), join(root, 'idx-siprec', 'index.jsonl'), log);
    assert.ok(idx.putMeta('t1', siprec('t1', 'grp', 'sess-1', ['sip:Alice@example.com', 'sip:bob@example.com'])));
    assert.ok(idx.putMeta('t2', siprec('t2', 'grp', 'sess-2', ['sip:alice@example.com', 'sip:dave@example.com'])));
    assert.ok(idx.putMeta('t3', siprec('t3', null, null, [])));
    assert.ok(idx.putMeta('plain', JSON.parse(sidecar('plain', '2026-12-01T10:00:00.000Z', [{ uri: 'sip:dave@example.com' }])) as RecordingMetadata));
    const ids = (q: Omit<RecordingQuery, 'limit'>): string[] => idx.query({ limit: 10, ...q }).entries.map((e) => e.id).sort();
    assert.deepEqual(ids({ group: 'grp' }), ['t1', 't2']);
    assert.deepEqual(ids({ session: 'sess-1' }), ['t1']);
    assert.deepEqual(ids({ group: 'grp', participant: 'sip:DAVE@example.com' }), ['t2']);
    assert.deepEqual(ids({ participant: 'sip:dave@example.com' }), ['plain', 't2']);
    assert.deepEqual(ids({ group: 'other' }), []);
    assert.equal('group' in idx.get('plain')!, false, 'no SIPREC fields in other entries');
    idx.close();
  });

  it('normalizes URIs for matching', () => {
    assert.equal(normalizeUri('"Bob" <sip:Bob@Example.COM;transport=udp>'), 'sip:bob@example.com');
    assert.equal(normalizeUri('sip:x@y?Subject=z'), 'sip:x@y');
  });
});

describe('retention policy and config', () => {
  it('step wins over rule, rule over the default; none: kept', () => {
    const origin = { flow: 'f', rule: 'r', ruleRetentionDays: 30, defaultRetentionDays: 7 };
    assert.deepEqual(resolveRetention(365, origin, null), { days: 365, from: 'step' });
    assert.deepEqual(resolveRetention(undefined, origin, null), { days: 30, from: 'rule' });
    assert.deepEqual(resolveRetention(undefined, { ...origin, ruleRetentionDays: null }, null), { days: 7, from: 'default' });
    assert.equal(resolveRetention(undefined, null, null), null);
  });

  it('validates retention, signing and token keys, naming them', () => {
    const c = parseConfig(`
recording: { signing: { keyFile: /k.pem }, retention: { days: 2555, sweepIntervalSec: 60 } }
routing: { rules: [{ name: g, actions: [{ app: f }], retention: { days: 30 } }] }
flows: { f: [{ record: { action: start, retention: { days: 10 } } }] }
api: { tokens: [{ name: auditor, token: 0123456789abcdef0 }] }
`);
    assert.equal(c.recording.retention.days, 2555);
    assert.equal(c.routing.rules[0]!.retention!.days, 30);
    const bad = (yaml: string, key: string): void =>
      assert.throws(() => parseConfig(yaml), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith(key)));
    bad('recording: { retention: { days: 0 } }', 'recording.retention.days');
    bad('recording: { retention: { days: 1, sweepIntervalSec: -1 } }', 'recording.retention.sweepIntervalSec');
    bad('api: { token: 0123456789abcdef0, tokens: [{ name: default, token: 0123456789abcdef1 }] }', 'api.tokens.0.name');
    bad('api: { tokens: [{ name: "a b", token: 0123456789abcdef1 }] }', 'api.tokens.0.name');
    bad('api: { enabled: true }', 'api.token');
  });
});

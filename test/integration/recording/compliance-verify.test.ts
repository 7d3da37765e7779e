// Tamper evidence (issue 17): real recordings made by a RecordingService with the
// compliance service attached are signed and logged; then one byte of a WAV, of a
// sidecar, of a signature, of an audit-log line is flipped, a file deleted, log
// lines reordered or cut off: verify (in-process and `parley recordings verify`)
// names each failure, and the untouched recordings still verify. A recording left
// by a process killed with SIGKILL is repaired at the next start, signed and logged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyAuditLog } from '../../../src/recording/compliance/audit-verify.ts';
import { ComplianceService } from '../../../src/recording/compliance/compliance-service.ts';
import { verifyRecording } from '../../../src/recording/compliance/recording-verifier.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { recordThenKill9 } from '../../helpers/kill9-recorder.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { waitFor } from '../../helpers/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-compliance-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function open(dir: string): Promise<{ svc: RecordingService; compliance: ComplianceService }> {
  const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
  const compliance = await ComplianceService.start({ dir, keyFile: null, auditLog: null, retention: { days: null, sweepIntervalSec: 0 }, log: silentLogger() });
  compliance.attach(svc);
  return { svc, compliance };
}

async function record(svc: RecordingService, room: string, ms = 600): Promise<RecordingMetadata> {
  const rec = svc.createRecorder({ roomId: room, sampleRate: 16000 });
  rec.addLeg('a', { uri: 'sip:alice@example.com', callId: `cid-${room}`, role: 'caller', originalTo: 'sip:bob@example.com' });
  rec.addLeg('b', { uri: 'sip:bob@example.com' });
  const tones = new ToneRoom(16000);
  tones.legs.set('a', 440).set('b', 1000);
  tones.feed(rec, ms);
  rec.close();
  return rec.finalized;
}

function flipByte(path: string, at: number): void {
  const b = readFileSync(path);
  b[at] = b[at]! ^ 0x01;
  writeFileSync(path, b);
}

describe('recordings verify: tamper evidence', () => {
  const dir = join(root, 'rec');
  const audit = join(dir, '.parley', 'audit.jsonl');
  let compliance: ComplianceService;
  let svc: RecordingService;
  const metas: RecordingMetadata[] = [];
  const ids: string[] = [];
  let pristineLog: Buffer;

  before(async () => {
    ({ svc, compliance } = await open(dir));
    for (let i = 0; i < 6; i++) metas.push(await record(svc, `room-${i}`));
    await compliance.settled();
    for (const m of metas) ids.push(m.mix.file.replace(/\.mix\.wav$/, ''));
    pristineLog = readFileSync(audit);
  });
  after(() => {
    svc.close();
    compliance.close();
  });

  const check = async (id: string) => (await compliance.verify(id)).recording;

  it('signs every finalized recording and logs created + finalized; untouched ones verify', async () => {
    for (const id of ids) {
      const v = await check(id);
      assert.equal(v.ok, true, `${id}: ${JSON.stringify(v.problems)}`);
      assert.equal(v.signature, 'valid');
      assert.equal(v.files.length, 4, 'mix, stereo, two stems');
    }
    const report = await verifyAuditLog(audit, compliance.key);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    const events = report.byRecording.get(ids[0]!)!.map((l) => l.entry.event);
    assert.deepEqual(events, ['created', 'finalized']);
    const created = report.byRecording.get(ids[0]!)![0]!.entry;
    assert.equal(created.callId, 'cid-room-0', 'the created entry knows the call');
  });

  it('names a flipped byte in a WAV: which file, expected and actual sha256', async () => {
    const m = metas[0]!;
    flipByte(join(dir, m.mix.file), 5000);
    const v = await check(ids[0]!);
    assert.equal(v.ok, false);
    assert.equal(v.problems.length, 1, JSON.stringify(v.problems));
    const p = v.problems[0]!;
    assert.equal(p.kind, 'hash-mismatch');
    assert.equal(p.file, m.mix.file);
    assert.equal(p.expected, m.mix.sha256);
    assert.notEqual(p.actual, m.mix.sha256);
    assert.match(p.message, /altered/);
  });

  it('names a sidecar edited by hand (one byte), against the signature and the audit log', async () => {
    const path = join(dir, `${ids[1]}.json`);
    const text = readFileSync(path, 'utf8');
    const at = text.indexOf('"room-1"') + 4; // room-1 -> rool-1 (m ^ 1)
    flipByte(path, at);
    assert.match(readFileSync(path, 'utf8'), /"rool-1"/);
    const v = await check(ids[1]!);
    const kinds = v.problems.map((p) => p.kind).sort();
    assert.deepEqual(kinds, ['audit-sidecar-mismatch', 'sidecar-edited']);
    assert.match(v.problems.find((p) => p.kind === 'audit-sidecar-mismatch')!.message, /line \d+/);
  });

  it('names a missing file', async () => {
    const stem = metas[2]!.legs[1]!.stems[0]!.file;
    unlinkSync(join(dir, stem));
    const v = await check(ids[2]!);
    assert.deepEqual(v.problems.map((p) => [p.kind, p.file]), [['missing-file', stem]]);
  });

  it('names an altered signature', async () => {
    const path = join(dir, `${ids[3]}.json.sig`);
    const sig = JSON.parse(readFileSync(path, 'utf8')) as { signature: string };
    const raw = Buffer.from(sig.signature, 'base64');
    raw[10] = raw[10]! ^ 0x01;
    sig.signature = raw.toString('base64');
    writeFileSync(path, JSON.stringify(sig));
    const v = await check(ids[3]!);
    assert.deepEqual(v.problems.map((p) => p.kind), ['signature-bad']);
    assert.equal(v.signature, 'invalid');
  });

  it('names the line where a flipped byte breaks the audit chain', async () => {
    const lines = pristineLog.toString('utf8').split('\n');
    const n = lines.findIndex((l) => l.includes(`"${ids[4]}"`) && l.includes('"created"'));
    // A digit of the entry's time: the line is still JSON, only the chain shows it.
    lines[n] = lines[n]!.replace(/"at":"(\d{4})/, (_m, y: string) => `"at":"${String(Number(y) + 1)}`);
    writeFileSync(audit, lines.join('\n'));
    const report = await verifyAuditLog(audit, compliance.key);
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems.map((p) => [p.kind, p.line]), [['audit-chain', n + 2]]);
    assert.match(report.problems[0]!.message, new RegExp(`broken at line ${n + 2}`));
    // Recordings still check against the entries.
    assert.equal((await verifyRecording({ dir, id: ids[5]!, key: compliance.key, audit: report })).ok, true);
    writeFileSync(audit, pristineLog);
  });

  it('names reordered lines and a truncated log', async () => {
    const lines = pristineLog.toString('utf8').trimEnd().split('\n');
    const swapped = [...lines];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    writeFileSync(audit, swapped.join('\n') + '\n');
    let report = await verifyAuditLog(audit, compliance.key);
    assert.deepEqual(
      report.problems.filter((p) => p.line === 4).map((p) => p.kind).sort(),
      ['audit-chain', 'audit-seq'],
      JSON.stringify(report.problems),
    );
    writeFileSync(audit, lines.slice(0, -2).join('\n') + '\n');
    report = await verifyAuditLog(audit, compliance.key);
    assert.deepEqual(report.problems.map((p) => p.kind), ['audit-truncated']);
    assert.match(report.problems[0]!.message, new RegExp(`ends at seq ${lines.length - 2} .* says seq ${lines.length}`));
    // The last recording's finalized entry went with the cut: its own check says so.
    const last = await verifyRecording({ dir, id: ids[5]!, key: compliance.key, audit: report });
    assert.deepEqual(last.problems.map((p) => p.kind), ['audit-missing-entry']);
    writeFileSync(audit, pristineLog);
  });

  it('`parley recordings verify --all` prints each failure and exits 1; one untouched recording exits 0', () => {
    const config = join(root, 'verify.yaml');
    writeFileSync(config, `recording: { dir: ${dir} }\nlog: { level: silent }\n`);
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'recordings', 'verify', ...args, '--config', config], { encoding: 'utf8' });
    const all = run('--all');
    assert.equal(all.status, 1, all.stderr);
    assert.match(all.stdout, new RegExp(`FAILED  ${ids[0]}\\n.*${metas[0]!.mix.file}: sha256 [0-9a-f]{64}, the sidecar says ${metas[0]!.mix.sha256}`));
    assert.match(all.stdout, new RegExp(`FAILED  ${ids[1]}\\n.*the sidecar was edited after it was signed`));
    assert.match(all.stdout, new RegExp(`FAILED  ${ids[2]}\\n.*${metas[2]!.legs[1]!.stems[0]!.file}: missing`));
    assert.match(all.stdout, new RegExp(`FAILED  ${ids[3]}\\n.*signature does not verify`));
    assert.match(all.stdout, new RegExp(`OK      ${ids[4]}`));
    assert.match(all.stdout, /2 verified, 4 failed/);
    const one = run(ids[5]!);
    assert.equal(one.status, 0, one.stdout + one.stderr);
    assert.match(one.stdout, /audit log .*: OK/);
  });
});

describe('`verify --all` takes its recordings from the audit log too', () => {
  it('fails a finalized recording removed by hand (no deleted entry), naming its audit line; counts a deleted one', async () => {
    const dir = join(root, 'rec-all');
    const { svc, compliance } = await open(dir);
    const made: string[] = [];
    try {
      for (let i = 0; i < 3; i++) made.push((await record(svc, `all-${i}`)).mix.file.replace(/\.mix\.wav$/, ''));
      await compliance.settled();
      assert.equal(await compliance.delete(made[2]!, 'test'), true);
      await compliance.settled();
    } finally {
      svc.close();
      compliance.close();
    }
    const gone = made[1]!;
    for (const f of [`${gone}.json`, `${gone}.json.sig`, `${gone}.mix.wav`]) unlinkSync(join(dir, f));
    const lines = readFileSync(join(dir, '.parley', 'audit.jsonl'), 'utf8').trimEnd().split('\n');
    const line = lines.findIndex((l) => l.includes('"event":"finalized"') && l.includes(`"recording":"${gone}"`)) + 1;
    assert.ok(line > 0);
    const config = join(root, 'verify-all.yaml');
    writeFileSync(config, `recording: { dir: ${dir} }\nlog: { level: silent }\n`);
    const all = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'recordings', 'verify', '--all', '--config', config], { encoding: 'utf8' });
    assert.equal(all.status, 1, all.stdout + all.stderr);
    assert.match(all.stdout, new RegExp(`FAILED  ${gone}\\n.*${gone}\\.json cannot be read: ENOENT; the audit log says it was finalized at \\S+ \\(line ${line}\\) and never deleted`));
    assert.match(all.stdout, new RegExp(`DELETED ${made[2]}`));
    assert.match(all.stdout, new RegExp(`OK      ${made[0]}`));
    assert.match(all.stdout, /1 verified, 1 failed, 0 still recording, 1 deleted/);
  });
});

describe('an interrupted recording', () => {
  it('is repaired at the next start, signed and logged (recovered), and verifies', async (t) => {
    const dir = join(root, 'kill9');
    await recordThenKill9(dir, 1500);
    const { svc, compliance } = await open(dir);
    t.after(() => (svc.close(), compliance.close()));
    const [found] = await svc.recoverInterrupted();
    assert.ok(found, 'one recording repaired');
    await compliance.settled();
    const v = (await compliance.verify(found.id)).recording;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    const report = await verifyAuditLog(compliance.auditFile, compliance.key);
    const fin = report.byRecording.get(found.id)!.find((l) => l.entry.event === 'finalized')!.entry;
    assert.equal(fin.recovered, true);
    assert.equal(fin.interrupted, true);
    svc.close();
    compliance.close();
    await compliance.settled();
    copyFileSync(compliance.auditFile, join(root, 'kill9-audit.jsonl'));
  });
});

describe('a signature that cannot be written', () => {
  it('is tried again until it can; the recording then verifies', async (t) => {
    const dir = join(root, 'unsignable');
    const { svc, compliance } = await open(dir);
    t.after(() => (svc.close(), compliance.close()));
    const rec = svc.createRecorder({ roomId: 'blocked', sampleRate: 16000 });
    // The signature's temp file is a directory: writing it fails (EISDIR) like a full disk would.
    mkdirSync(join(dir, `${rec.id}.json.sig.tmp`), { recursive: true });
    const tones = new ToneRoom(16000);
    tones.legs.set('a', 440);
    tones.feed(rec, 300);
    rec.close();
    await rec.finalized;
    assert.equal(existsSync(join(dir, `${rec.id}.json.sig`)), false);
    assert.deepEqual((await compliance.verify(rec.id)).recording.problems.map((p) => p.kind), ['signature-missing', 'audit-missing-entry']);
    rmSync(join(dir, `${rec.id}.json.sig.tmp`), { recursive: true });
    await waitFor('the signature', () => existsSync(join(dir, `${rec.id}.json.sig`)), 15_000);
    await compliance.settled();
    const v = (await compliance.verify(rec.id)).recording;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    svc.close();
    compliance.close();
    await compliance.settled();
  });
});

describe('files encoded after signing (`<id>.json.encoded`)', () => {
  it('verify checks them by their list and their source; a delete removes them', async (t) => {
    const dir = join(root, 'derived');
    const { svc, compliance } = await open(dir);
    t.after(() => (svc.close(), compliance.close()));
    const m = await record(svc, 'derived');
    await compliance.settled();
    const id = m.mix.file.replace(/\.mix\.wav$/, '');
    const ogg = `${id}.mix.ogg`;
    writeFileSync(join(dir, ogg), 'not really ogg, but bytes with a hash');
    const sha = createHash('sha256').update(readFileSync(join(dir, ogg))).digest('hex');
    const list = (sourceSha256: string) => ({ version: 1, recording: id, files: [{ source: m.mix.file, sourceSha256, file: ogg, format: 'ogg', durationMs: 600, sha256: sha, madeAt: new Date().toISOString() }] });
    writeFileSync(join(dir, `${id}.json.encoded`), JSON.stringify(list(m.mix.sha256!)));
    let v = (await compliance.verify(id)).recording;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    assert.deepEqual(v.files.filter((f) => f.derived).map((f) => [f.file, f.ok]), [[ogg, true]]);
    assert.equal(v.signature, 'valid');
    // A list naming a source the signed sidecar does not hold so.
    writeFileSync(join(dir, `${id}.json.encoded`), JSON.stringify(list('0'.repeat(64))));
    v = (await compliance.verify(id)).recording;
    assert.deepEqual(v.problems.map((p) => [p.kind, p.file]), [['derived-source', ogg]]);
    // A list that is not one.
    writeFileSync(join(dir, `${id}.json.encoded`), '{"version":1');
    v = (await compliance.verify(id)).recording;
    assert.deepEqual(v.problems.map((p) => p.kind), ['derived-list-unreadable']);
    writeFileSync(join(dir, `${id}.json.encoded`), JSON.stringify(list(m.mix.sha256!)));
    // Deleted with the recording: encoded audio kept past its retention would be a leak.
    assert.equal(await compliance.delete(id, 'test'), true);
    assert.equal(existsSync(join(dir, ogg)), false);
    assert.equal(existsSync(join(dir, `${id}.json.encoded`)), false);
    assert.equal(existsSync(join(dir, m.mix.file)), false);
  });
});

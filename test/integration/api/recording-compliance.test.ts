// Legal hold, retention and search through the real control API of a running
// Parley (issue 17): recordings made by its own RecordingService (signed and
// logged by its compliance service), held and released with named tokens, swept
// by retention; the audit log shows who did what, and what was deleted with the
// sha256 of each file; held recordings survive any retention.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../../../src/recording/compliance/audit-log.ts';
import type { RecordingLabels, RecordingMetadata } from '../../../src/recording/metadata.ts';
import { apiBase, apiYaml, call } from '../../helpers/api-client.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';

const AUDITOR = 'auditor-token-0123456789';
const SHORT_DAYS = 0.0001; // 8.6 s: the sweep below is run as if a minute later

describe('recordings: legal hold, retention and search through the API', () => {
  let parley: RunningParley;
  let base: string;
  const ids: Record<string, string> = {};
  const metas: Record<string, RecordingMetadata> = {};

  async function record(name: string, labels: RecordingLabels, uri = `sip:${name}@example.com`): Promise<void> {
    const rec = parley.app.recordings!.createRecorder({ roomId: name, sampleRate: 16000, labels });
    rec.addLeg('a', { uri, callId: `cid-${name}`, role: 'caller', originalTo: `sip:desk-${name.length % 2}@example.com` });
    const tones = new ToneRoom(16000);
    tones.legs.set('a', 440);
    tones.feed(rec, 300);
    rec.close();
    metas[name] = await rec.finalized;
    ids[name] = rec.id;
  }

  const auditEntries = (): AuditEntry[] =>
    readFileSync(parley.app.compliance!.auditFile, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as AuditEntry);

  before(async () => {
    const state = join(mkdtempSync(join(tmpdir(), 'parley-api-')), 'rules.json');
    parley = await startParley(apiYaml(state, `  tokens: [{ name: auditor, token: ${AUDITOR} }]\n`), {
      recording: { extra: 'retention: { days: null, sweepIntervalSec: 0 }' },
    });
    base = apiBase(parley);
    const short = { days: SHORT_DAYS, from: 'step' as const };
    await record('expired', { flow: 'record-notice', rule: 'gateway', retention: short });
    await record('held', { flow: 'record-notice', rule: 'gateway', retention: short });
    await record('released', { flow: 'compliance-record', rule: 'desk', retention: short });
    await record('forever', { flow: 'compliance-record', rule: 'desk', retention: null });
    await record('month', { flow: 'main-menu', rule: null, retention: { days: 30, from: 'rule' } }, '"Carol" <sip:Carol@Example.com;transport=tcp>');
    await parley.app.compliance!.settled();
  });
  after(async () => {
    await parley?.stop();
  });

  it('serves the signing key; a recording verifies through the API', async () => {
    const key = await call(base, 'GET', '/recordings/signing-key');
    assert.equal(key.status, 200);
    assert.equal(key.body.alg, 'Ed25519');
    assert.match(key.body.publicKey, /BEGIN PUBLIC KEY/);
    assert.equal(key.body.keyId, parley.app.compliance!.key.id);
    const v = await call(base, 'GET', `/recordings/${ids.month}/verify`);
    assert.equal(v.status, 200);
    assert.equal(v.body.ok, true, JSON.stringify(v.body.problems));
    assert.equal(v.body.signature, 'valid');
    assert.equal((await call(base, 'GET', '/recordings/nope/verify')).status, 404);
  });

  it('holds and releases with the token name in the audit log; unknown and unheld are 404', async () => {
    const h = await call(base, 'POST', `/recordings/${ids.held}/hold`, { reason: 'case 42' }, AUDITOR);
    assert.equal(h.status, 200, h.text);
    assert.equal(h.body.held, true);
    assert.equal(h.body.by, 'api:auditor');
    assert.equal((await call(base, 'POST', `/recordings/${ids.released}/hold`)).status, 200);
    assert.equal((await call(base, 'DELETE', `/recordings/${ids.released}/hold`, undefined, AUDITOR)).status, 200);
    assert.equal((await call(base, 'DELETE', `/recordings/${ids.forever}/hold`)).status, 404);
    assert.equal((await call(base, 'POST', '/recordings/no-such-thing/hold')).status, 404);
    const mine = auditEntries().filter((e) => e.event === 'held' || e.event === 'released');
    assert.deepEqual(
      mine.map((e) => [e.event, e.recording, e.actor]),
      [
        ['held', ids.held, 'api:auditor'],
        ['held', ids.released, 'api:default'],
        ['released', ids.released, 'api:auditor'],
      ],
    );
    const list = await call(base, 'GET', '/recordings?held=true');
    assert.deepEqual(list.body.map((r: { id: string }) => r.id), [ids.held]);
  });

  it('logs each export with who and the file hash', async () => {
    const file = metas.month!.mix.file;
    const r = await call(base, 'GET', `/recordings/${ids.month}/files/${file}`, undefined, AUDITOR);
    assert.equal(r.status, 200);
    const e = auditEntries().findLast((x) => x.event === 'exported')!;
    assert.deepEqual([e.recording, e.actor, e.file, e.sha256], [ids.month, 'api:auditor', file, metas.month!.mix.sha256]);
    assert.equal(e.range, undefined, 'the whole file');
    // A part of it (HTTP Range): the entry says which, with the sha256 of the whole file as checked.
    const part = await fetch(`${base}/recordings/${ids.month}/files/${file}`, { headers: { authorization: `Bearer ${AUDITOR}`, range: 'bytes=0-43' } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), readFileSync(join(parley.recordingDir, file)).subarray(0, 44));
    const p = auditEntries().findLast((x) => x.event === 'exported')!;
    assert.match(String(p.range), /^bytes=0-43\/[0-9]+$/);
    assert.deepEqual([p.file, p.sha256, p.from, p.decrypted], [file, metas.month!.mix.sha256, 'local', false]);
  });

  it('refuses a file altered on disk (409, expected and actual sha256) and logs the refusal, not an export', async () => {
    const file = metas.month!.mix.file;
    const path = join(parley.recordingDir, file);
    const original = readFileSync(path);
    const altered = Buffer.from(original);
    altered[3000] ^= 0x55;
    writeFileSync(path, altered);
    try {
      const actual = createHash('sha256').update(altered).digest('hex');
      const exportsBefore = auditEntries().filter((x) => x.event === 'exported').length;
      const r = await call(base, 'GET', `/recordings/${ids.month}/files/${file}`, undefined, AUDITOR);
      assert.equal(r.status, 409, r.text);
      assert.match(r.text, new RegExp(`sha256 ${actual}, the sidecar says ${metas.month!.mix.sha256}: the file on disk was altered`));
      const e = auditEntries().at(-1)!;
      assert.deepEqual([e.event, e.recording, e.actor, e.file, e.sha256, e.expected], ['export.refused', ids.month, 'api:auditor', file, actual, metas.month!.mix.sha256]);
      // Not even a part of it: the whole file is checked before a ranged answer too.
      const part = await fetch(`${base}/recordings/${ids.month}/files/${file}`, { headers: { authorization: `Bearer ${AUDITOR}`, range: 'bytes=0-43' } });
      assert.equal(part.status, 409);
      await part.text();
      const pe = auditEntries().at(-1)!;
      assert.deepEqual([pe.event, pe.sha256, pe.expected, pe.range], ['export.refused', actual, metas.month!.mix.sha256, `bytes=0-43/${altered.length}`]);
      assert.equal(auditEntries().filter((x) => x.event === 'exported').length, exportsBefore);
    } finally {
      writeFileSync(path, original);
    }
  });

  it('searches by flow, rule, original To, participant, time range and hold, with a cursor', async () => {
    const idsOf = async (q: string): Promise<string[]> => {
      const r = await call(base, 'GET', `/recordings${q}`);
      assert.equal(r.status, 200, r.text);
      return r.body.map((x: { id: string }) => x.id);
    };
    assert.deepEqual(await idsOf('?flow=compliance-record'), [ids.forever, ids.released]);
    assert.deepEqual(await idsOf('?rule=gateway'), [ids.held, ids.expired]);
    assert.deepEqual(await idsOf(`?participant=${encodeURIComponent('sip:carol@example.com')}`), [ids.month]);
    // desk-1: names of odd length (expired, forever, month).
    assert.deepEqual(await idsOf(`?originalTo=${encodeURIComponent('<sip:desk-1@EXAMPLE.com>')}`), [ids.month, ids.forever, ids.expired]);
    assert.deepEqual(await idsOf('?held=false&flow=record-notice'), [ids.expired]);
    const since = metas.released!.startedAt;
    assert.deepEqual(await idsOf(`?since=${encodeURIComponent(since)}&until=${encodeURIComponent(metas.month!.startedAt)}`), [ids.forever, ids.released]);
    const pages: string[][] = [];
    let cursor = '';
    for (;;) {
      const r = await call(base, 'GET', `/recordings?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(r.body.map((x: { id: string }) => x.id));
      cursor = r.headers.get('x-next-cursor') ?? '';
      if (!cursor) break;
    }
    assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
    assert.deepEqual(pages.flat(), [ids.month, ids.forever, ids.released, ids.held, ids.expired]);
    const bad = await call(base, 'GET', '/recordings?since=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'querystring.since');
    // A cursor that is no X-Next-Cursor is refused rather than taken for the first page.
    for (const c of ['garbage', '-1']) {
      const r = await call(base, 'GET', `/recordings?cursor=${c}`);
      assert.equal(r.status, 400, c);
      assert.equal(r.body.field, 'querystring.cursor');
    }
  });

  it('retention deletes exactly the expired recordings that are not held; the audit log has the hashes', async () => {
    const deleted = await parley.app.compliance!.sweeper.sweep(Date.now() + 60_000);
    assert.deepEqual(deleted.sort(), [ids.expired, ids.released].sort());
    const dir = parley.recordingDir;
    for (const name of ['expired', 'released']) {
      const m = metas[name]!;
      assert.equal(existsSync(join(dir, m.mix.file)), false, `${name}: mix gone`);
      assert.equal(existsSync(join(dir, `${ids[name]}.json`)), false, `${name}: sidecar gone`);
      const e = auditEntries().find((x) => x.event === 'deleted' && x.recording === ids[name])!;
      assert.equal(e.actor, 'retention');
      assert.equal(e.retentionDays, SHORT_DAYS);
      const files = e.files as { file: string; sha256: string }[];
      assert.deepEqual(files.map((f) => f.file), [m.mix.file, m.stereo!.file, m.legs[0]!.stems[0]!.file, `${ids[name]}.json.sig`, `${ids[name]}.json`]);
      assert.equal(files[0]!.sha256, m.mix.sha256);
      const v = await call(base, 'GET', `/recordings/${ids[name]}/verify`);
      assert.equal(v.body.state, 'deleted');
      assert.match(v.body.problems[0].message, /deleted at .* by retention/);
    }
    for (const name of ['held', 'forever', 'month']) {
      assert.equal(existsSync(join(dir, metas[name]!.mix.file)), true, `${name} kept`);
      assert.equal((await call(base, 'GET', `/recordings/${ids[name]}/verify`)).body.ok, true);
    }
    assert.equal((await call(base, 'GET', '/recordings')).body.length, 3);
    const chain = await call(base, 'GET', '/recordings/audit/verify');
    assert.equal(chain.body.ok, true, JSON.stringify(chain.body.problems));
  });
});

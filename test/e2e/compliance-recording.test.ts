// A real call's recording is compliance-grade (issue 17): a SIPp caller → Parley
// (rule with a retention, record step with its own) → a SIPp callee, Node RTP
// peers sending tones. The recording is signed and logged when finalized, holds
// both tones, names its flow, rule and retention, is found by the original To
// through the API, and verifies through the API and with `parley recordings verify`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../../src/recording/compliance/audit-log.ts';
import { apiBase, apiYaml, call } from '../helpers/api-client.ts';
import { purity, readWavFile } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { runSipp, startSipp } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';

const SCEN = resolve('test/e2e/scenarios');

const flows = `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
      retention: { days: 2555 }
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start, retention: { days: 3650 } }
    - bridge: { ringTimeout: 10 }
`;

describe('a recorded SIPp call is signed, logged, searchable and verifies', () => {
  let parley: RunningParley;
  let base: string;
  let caller: RtpPeer;
  let callee: RtpPeer;
  let calleePort = 0;
  const audit = (): AuditEntry[] =>
    readFileSync(parley.app.compliance!.auditFile, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as AuditEntry);

  /** One SIPp call through Parley (caller tone 440 Hz, callee 1000 Hz) of `seconds`. */
  async function placeCall(seconds: number): Promise<void> {
    const calleeRun = await startSipp({ scenario: join(SCEN, 'callee.xml'), transport: 'udp', calls: 1, timeoutS: 30, extra: ['-key', 'rtpport', String(callee.port)] });
    calleePort = calleeRun.port;
    const run = await runSipp({
      scenario: join(SCEN, 'caller.xml'),
      transport: 'udp',
      remote: `127.0.0.1:${parley.sipPort}`,
      calls: 1,
      timeoutS: 30,
      extra: ['-key', 'to_uri', `sip:bob@127.0.0.1:${calleePort}`, '-key', 'rtpport', String(caller.port), '-d', String(seconds * 1000)],
    });
    assert.equal(run.code, 0, `caller SIPp: ${run.errors}`);
    assert.equal((await calleeRun.done).code, 0);
  }

  before(async () => {
    parley = await startParley(flows + apiYaml(join(mkdtempSync(join(tmpdir(), 'parley-api-')), 'rules.json')));
    base = apiBase(parley);
    callee = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    caller = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    callee.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
    caller.start({ kind: 'tone', freq: 440, amplitude: 8000 });
    await placeCall(3);
    await waitFor('the finalized entry in the audit log', () => audit().some((e) => e.event === 'finalized'));
  });

  after(async () => {
    await caller?.close();
    await callee?.close();
    await parley?.stop();
  });

  it('the audit log has created then finalized for it, with the signed content hash', () => {
    const entries = audit();
    const id = entries.find((e) => e.event === 'finalized')!.recording!;
    assert.deepEqual(entries.filter((e) => e.recording === id).map((e) => e.event), ['created', 'finalized']);
    const created = entries.find((e) => e.event === 'created')!;
    assert.equal(created.flow, 'record-notice');
    assert.equal(created.rule, 'gateway');
    assert.match(String(entries.find((e) => e.event === 'finalized')!.sidecarSha256), /^[0-9a-f]{64}$/);
  });

  it('is found by its original To, names flow, rule and the step retention, holds both tones', async () => {
    const list = await call(base, 'GET', `/recordings?originalTo=${encodeURIComponent(`sip:bob@127.0.0.1:${calleePort}`)}&flow=record-notice`);
    assert.equal(list.status, 200);
    assert.equal(list.body.length, 1);
    const row = list.body[0];
    assert.deepEqual([row.flow, row.rule, row.retention], ['record-notice', 'gateway', { days: 3650, from: 'step' }]);
    const meta = (await call(base, 'GET', `/recordings/${row.id}`)).body;
    const mix = readWavFile(join(parley.recordingDir, meta.mix.file));
    const w = mix.sampleRate / 2;
    const at = mix.samples.length - 2 * w;
    assert.ok(purity(mix.samples, mix.sampleRate, 440, at, w) > 0.1 && purity(mix.samples, mix.sampleRate, 1000, at, w) > 0.1, 'both parties in the mix');
  });

  it('verifies through the API and with `parley recordings verify`', async () => {
    const [row] = (await call(base, 'GET', '/recordings')).body;
    const v = await call(base, 'GET', `/recordings/${row.id}/verify`);
    assert.equal(v.body.ok, true, JSON.stringify(v.body));
    assert.equal(v.body.signature, 'valid');
    assert.ok(v.body.files.length >= 4, 'mix, stereo and a stem per leg checked');
    const config = join(mkdtempSync(join(tmpdir(), 'parley-verify-')), 'p.yaml');
    writeFileSync(config, `recording: { dir: ${parley.recordingDir} }\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'recordings', 'verify', '--all', '--config', config], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`OK      ${row.id}`));
    assert.match(r.stdout, /1 verified, 0 failed/);
  });

  it('a tampered recording is reported precisely while calls go on, and the next recording verifies', async () => {
    const [first] = (await call(base, 'GET', '/recordings')).body;
    const meta = (await call(base, 'GET', `/recordings/${first.id}`)).body;
    const mixPath = join(parley.recordingDir, meta.mix.file);
    const bytes = readFileSync(mixPath);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x80;
    writeFileSync(mixPath, bytes);
    unlinkSync(join(parley.recordingDir, meta.stereo.file));
    const bad = await call(base, 'GET', `/recordings/${first.id}/verify`);
    assert.equal(bad.body.ok, false);
    assert.deepEqual(
      bad.body.problems.map((p: { kind: string; file: string }) => [p.kind, p.file]),
      [['hash-mismatch', meta.mix.file], ['missing-file', meta.stereo.file]],
    );
    await placeCall(2);
    await waitFor('a second finalized entry', () => audit().filter((e) => e.event === 'finalized').length === 2);
    const second = audit().findLast((e) => e.event === 'finalized')!.recording!;
    assert.notEqual(second, first.id);
    const good = await call(base, 'GET', `/recordings/${second}/verify`);
    assert.equal(good.body.ok, true, JSON.stringify(good.body.problems));
  });
});

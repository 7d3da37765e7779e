// Encrypted and stored recordings end to end, Parley as its own process with a
// SIPp caller and callee (tones on their RTP), a real S3-compatible server:
// - a call recorded encrypted and uploaded: recording.stored, the local audio
//   gone, the API serves the mix from the bucket decrypted (the tone measured),
//   no plaintext PCM in the recordings folder nor in the bucket's files;
// - kill -9 mid-call: every flushed chunk decrypts (no plaintext on disk); a
//   restart with a wrong master key touches nothing; one with the right key
//   repairs it and the API serves it decrypted;
// - kill -9 in the middle of an upload: the next start resumes it from the
//   journal, and only then is the local audio removed.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decryptChunks } from '../../src/recording/encryption/decrypt-reader.ts';
import { parseMasterKey } from '../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../src/recording/encryption/recording-encryption.ts';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import { call as api, TEST_TOKEN } from '../helpers/api-client.ts';
import { medianToneShare } from '../helpers/audio-analysis.ts';
import { freePort } from '../helpers/free-port.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { startS3, storeConfig, type S3TestServer } from '../helpers/s3-server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startCallee, startCaller } from './helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'parley-encstore-'));
const keyHex = randomBytes(32).toString('hex');
const keyFile = join(work, 'master.key');
writeFileSync(keyFile, keyHex + '\n', { mode: 0o600 });
const wrongKeyFile = join(work, 'wrong.key');
writeFileSync(wrongKeyFile, randomBytes(32).toString('hex'));

let s3: S3TestServer;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3.stop();
  rmSync(work, { recursive: true, force: true });
});

const FLOWS = `
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw: [{ answer: { early: true } }, { record: { action: start } }, { bridge: { ringTimeout: 10 } }]
`;

async function withApi(extra: string, recording: string, recordings?: string): Promise<{ proc: ParleyProcess; base: string }> {
  const apiPort = await freePort();
  const state = mkdtempSync(join(work, 'state-'));
  const proc = await spawnParley(
    `${FLOWS}api: { enabled: true, port: ${apiPort}, token: ${TEST_TOKEN}, rulesStateFile: ${state}/rules.json, webhookSpoolFile: ${state}/spool.json }\n${extra}`,
    { recording, ...(recordings ? { recordings } : {}) },
  );
  return { proc, base: `http://127.0.0.1:${apiPort}` };
}

async function stop(proc: ParleyProcess): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGINT');
  await once(proc.child, 'exit');
}

async function event(base: string, type: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const e = await waitFor(type, async () => {
    const r = await api(base, 'GET', '/events/recent');
    return (r.body?.events as Array<{ type: string; data: Record<string, unknown> }> | undefined)?.find((x) => x.type === type);
  }, timeoutMs);
  return e.data;
}

/** A whole call (caller 440 Hz, callee 1000 Hz, `ms` after the answer). */
async function recordedCall(proc: ParleyProcess, ms: number): Promise<void> {
  const callee = await startCallee('callee.xml', 1000);
  const caller = await startCaller({ sipPort: proc.sipPort } as RunningParley, 'caller.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440, pauseMs: ms });
  await Promise.all([caller.done, callee.done]);
  await caller.rtp.close();
  await callee.rtp.close();
}

async function downloadPcm(base: string, id: string, file: string): Promise<{ pcm: Int16Array; rate: number; headers: Headers }> {
  const res = await fetch(`${base}/recordings/${id}/files/${file}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  assert.equal(res.status, 200, await res.clone().text());
  const wav = Buffer.from(await res.arrayBuffer());
  assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
  assert.equal(Number(res.headers.get('content-length')), wav.length);
  assert.equal(wav.readUInt32LE(40), wav.length - 44);
  const pcm = wav.subarray(44);
  return { pcm: new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length)), rate: wav.readUInt32LE(24), headers: res.headers };
}

/** Files under `dir` (recursively) holding any 64-byte window of `pcm`. */
function plaintextIn(dir: string, pcm: Int16Array): string[] {
  const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const windows: Buffer[] = [];
  for (let off = 4000; off + 64 <= bytes.length; off += Math.max(64, Math.floor(bytes.length / 10))) windows.push(bytes.subarray(off, off + 64));
  const hits: string[] = [];
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    const data = readFileSync(path);
    if (windows.some((w) => data.indexOf(w) >= 0)) hits.push(path);
  }
  return hits;
}

const encryption = `encryption: { enabled: true, masterKeyFile: ${keyFile} }`;

describe('encrypted recordings in object storage (SIPp, s3rver)', () => {
  it('a call recorded encrypted is uploaded, removed locally, and served decrypted from the bucket', async () => {
    const store = JSON.stringify(storeConfig(s3, { journalFile: join(work, 'uploads-1.json') }));
    const { proc, base } = await withApi('', `${encryption}, store: ${store}`);
    try {
      await recordedCall(proc, 3000);
      const stored = await event(base, 'recording.stored');
      const id = String(stored.id);
      const meta = (await api(base, 'GET', `/recordings/${id}`)).body as RecordingMetadata;
      assert.equal(meta.state, 'finalized');
      assert.ok(meta.encryption);
      const removed = stored.removedLocal as string[];
      assert.ok(removed.includes(meta.mix.file));
      assert.equal(existsSync(join(proc.recordings, meta.mix.file)), false, 'the local mix is gone');
      assert.ok(existsSync(join(proc.recordings, `${id}.key`)) && existsSync(join(proc.recordings, `${id}.json`)), 'key file and sidecar stay');
      const objects = stored.objects as { file: string; url: string; sha256: string }[];
      assert.equal(objects.find((o) => o.file === meta.mix.file)?.sha256, meta.mix.sha256, 'the object is the file the sidecar hashed');
      const { pcm, rate } = await downloadPcm(base, id, meta.mix.file);
      assert.equal(rate, 8000, 'a G.711 (PCMU) call is recorded at 8 kHz');
      assert.ok(pcm.length / rate >= 2.5, `${pcm.length / rate} s`);
      const stereo = await downloadPcm(base, id, meta.stereo!.file);
      const left = stereo.pcm.filter((_, i) => i % 2 === 0);
      const right = stereo.pcm.filter((_, i) => i % 2 === 1);
      const shares = [medianToneShare(left, 440, stereo.rate), medianToneShare(right, 1000, stereo.rate)];
      assert.ok(shares[0] > 0.8 && shares[1] > 0.8, `the caller (left) says 440 Hz, the callee (right) 1000 Hz: ${shares.join(', ')}`);
      assert.deepEqual(plaintextIn(proc.recordings, pcm), [], 'no plaintext in the recordings folder');
      assert.deepEqual(plaintextIn(s3.directory, pcm), [], 'no plaintext in the bucket');
      const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
      assert.match(metrics, /parley_recordings_stored_total 1/);
      assert.match(metrics, /parley_recording_uploads_pending 0/);
    } finally {
      await stop(proc);
    }
  });

  it('kill -9 mid-call: flushed chunks decrypt, a wrong key changes nothing, the right one repairs', async () => {
    const proc = await spawnParley(FLOWS, { recording: encryption });
    const callee = await startCallee('callee.xml', 1000);
    const caller = await startCaller({ sipPort: proc.sipPort } as RunningParley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440 });
    await callee.rtp.waitForPackets(100, 15_000);
    // 1.5 s of the mix written (encrypted chunks of 8 kHz 16-bit audio: a G.711 call) before the kill.
    await waitFor('1.5 s of the mix on disk', () => {
      const mix = readdirSync(proc.recordings).find((f) => f.endsWith('.mix.wav'));
      return (mix ? statSync(join(proc.recordings, mix)).size : 0) >= 1.5 * 8000 * 2 || undefined;
    }, 15_000);
    const started = await proc.logged(/^recording started$/);
    const elapsed = (Date.now() - Number(started.time)) / 1000;
    proc.child.kill('SIGKILL');
    await once(proc.child, 'exit');
    caller.kill();
    callee.kill();
    await caller.rtp.close();
    await callee.rtp.close();
    const dir = proc.recordings;
    const mix = readdirSync(dir).find((f) => f.endsWith('.mix.wav'))!;
    const id = mix.slice(0, -'.mix.wav'.length);
    const key = await new RecordingEncryption(parseMasterKey(readFileSync(keyFile), 'test')).dataKey(dir, id);
    const parts: Buffer[] = [];
    const gen = decryptChunks(createReadStream(join(dir, mix)), key, mix, true);
    for (let r = await gen.next(); !r.done; r = await gen.next()) parts.push(r.value);
    const pcm = Buffer.concat(parts);
    const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
    assert.ok(samples.length / 8000 >= elapsed - 1, `${samples.length / 8000} s decrypt of ${elapsed} s recorded`);
    assert.ok(samples.length > 8000, 'more than a second of audio');
    assert.deepEqual(plaintextIn(dir, samples), [], 'no plaintext PCM on disk');
    // The recording's own files (not .parley/, where the audit log and index grow). A
    // sidecar's temp file (<id>.json.tmp, kept while recording) is a stale copy that any
    // start settles before recovery, whatever the key: it is not the recording's data.
    const sums = new Map(readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile() && !/\.json(\.\d+)?\.tmp$/.test(f)).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));

    const wrong = await spawnParley('', { recordings: dir, recording: `encryption: { enabled: true, masterKeyFile: ${wrongKeyFile} }` });
    try {
      const err = await wrong.logged(/could not be repaired/);
      assert.match(JSON.stringify(err), /wrapped by master key/);
    } finally {
      await stop(wrong);
    }
    for (const [f, h] of sums) assert.equal(createHash('sha256').update(readFileSync(join(dir, f))).digest('hex'), h, `${f} untouched`);

    const { proc: right, base } = await withApi('', encryption, dir);
    try {
      const saved = await event(base, 'recording.saved');
      assert.equal(saved.id, id);
      assert.equal(saved.interrupted, true);
      const got = await downloadPcm(base, id, mix);
      assert.ok(got.pcm.length >= samples.length - 8000 * 0.3, 'the repaired file decrypts up to the last flushed chunk');
      const meta = (await api(base, 'GET', `/recordings/${id}`)).body as RecordingMetadata;
      assert.ok(Math.abs(got.pcm.length / 8 - meta.mix.durationMs) <= 1);
    } finally {
      await stop(right);
    }
  });

  it('kill -9 in the middle of an upload: the next start resumes it; local audio removed only after', async () => {
    const journal = join(work, 'uploads-3.json');
    const store = JSON.stringify(storeConfig(s3, { journalFile: journal, prefix: 'kill/' }));
    s3.mode = 'stallPut';
    const { proc, base } = await withApi('', `store: ${store}`);
    let recordings = '';
    try {
      recordings = proc.recordings;
      await recordedCall(proc, 1500);
      await event(base, 'recording.saved');
      await waitFor('a PUT held by the gate', () => s3.stalledPuts > 0, 20_000);
      proc.child.kill('SIGKILL');
      await once(proc.child, 'exit');
    } finally {
      s3.mode = 'pass';
      await stop(proc);
    }
    const pending = JSON.parse(readFileSync(journal, 'utf8')) as { pending: { id: string; files: string[] }[] };
    assert.equal(pending.pending.length, 1);
    const { id, files } = pending.pending[0];
    const wavs = files.filter((f) => f.endsWith('.wav'));
    for (const f of wavs) assert.ok(statSync(join(recordings, f)).size > 44, `${f} still local after the kill`);
    const { proc: next, base: base2 } = await withApi('', `store: ${store}`, recordings);
    try {
      const stored = await event(base2, 'recording.stored');
      assert.equal(stored.id, id);
      for (const f of wavs) assert.equal(existsSync(join(recordings, f)), false, `${f} removed after it verified`);
      const res = await fetch(`${base2}/recordings/${id}/files/${wavs[0]}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      const sha = createHash('sha256').update(body).digest('hex');
      const meta = JSON.parse(readFileSync(join(recordings, `${id}.json`), 'utf8')) as RecordingMetadata;
      const entry = [meta.mix, meta.stereo!, ...meta.legs.flatMap((l) => l.stems)].find((e) => e.file === wavs[0])!;
      assert.equal(sha, entry.sha256, 'served from the bucket, byte for byte');
      assert.deepEqual((JSON.parse(readFileSync(journal, 'utf8')) as { pending: unknown[] }).pending, []);
    } finally {
      await stop(next);
    }
  });
});

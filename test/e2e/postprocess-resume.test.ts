// Post-processing (WAV → Ogg/Opus by real ffmpeg) cut short by a stop: a SIGTERM
// or a kill -9 of Parley while ffmpeg is encoding a finished call's recording
// (slowed by recording.postProcessReadRate so that the window is seconds long).
// The next start on that folder resumes the encoding: every file's .ogg decodes
// in ffmpeg to the caller's tone for as long as the call, no `.part` is left, the
// sidecar says 'done' with the outputs, and recording.saved is sent with it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import { call as api, TEST_TOKEN } from '../helpers/api-client.ts';
import { freePort } from '../helpers/free-port.ts';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { decodeWithFfmpeg, dominantTone, ffprobeSeconds, startToneCalls } from '../helpers/recorded-calls.ts';
import { waitFor } from '../helpers/wait.ts';

const CALL_MS = 4000;
const FREQS = [400, 650, 900];

function yaml(state: string, apiPort: number): string {
  return `
shutdown: { drainTimeoutMs: 300 }
routing:
  rules: [{ name: rec, match: { method: INVITE, media: audio }, actions: [{ app: rec }] }]
flows:
  rec: [answer, { record: { action: start } }, { play: { tone: "silence:${CALL_MS}" } }, hangup]
api: { enabled: true, port: ${apiPort}, token: ${TEST_TOKEN}, rulesStateFile: ${state}/rules.json, webhookSpoolFile: ${state}/spool.jsonl }
`;
}

function readMeta(dir: string): RecordingMetadata {
  const sidecars = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.equal(sidecars.length, 1, `one sidecar: ${sidecars.join(', ')}`);
  return JSON.parse(readFileSync(join(dir, sidecars[0]!), 'utf8')) as RecordingMetadata;
}

async function stopped(p: ParleyProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGINT');
  await once(p.child, 'exit');
}

async function interruptEncode(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), 'parley-pp-'));
  const apiPort = await freePort();
  // 2× real time: each of the recording's files takes about 2 s to encode (the window for the stop).
  const proc = await spawnParley(yaml(state, apiPort), { recording: 'postProcess: ogg, postProcessReadRate: 2' });
  const calls = await startToneCalls(proc.sipPort, 1);
  let next: ParleyProcess | null = null;
  try {
    // The call ends (Parley's BYE), the recording closes and ffmpeg encodes its files one by one:
    // the stop comes once the first is done (in the sidecar) while the next one's temp output grows.
    await waitFor('ffmpeg encoding the second file', () => {
      const names = readdirSync(proc.recordings);
      const json = names.find((f) => f.endsWith('.json'));
      if (!json || !names.some((f) => f.endsWith('.ogg.part'))) return undefined;
      try {
        return (JSON.parse(readFileSync(join(proc.recordings, json), 'utf8')) as RecordingMetadata).postProcessed.length >= 1 || undefined;
      } catch {
        return undefined; // mid-rename
      }
    }, 60_000);
    proc.child.kill(signal);
    const [code] = (await once(proc.child, 'exit')) as [number | null];
    if (signal === 'SIGTERM') assert.equal(code, 0, 'a clean exit');
    await calls.done.catch(() => undefined);
    const before = readMeta(proc.recordings);
    assert.equal(before.postProcessing.state, 'pending', `interrupted, not failed: ${JSON.stringify(before.postProcessing)}`);
    assert.equal(before.postProcessed.length, 1, 'the stop came after the first file was encoded, before the others');
    const first = before.postProcessed[0]!;
    if (signal === 'SIGTERM') {
      assert.equal(before.state, 'finalized');
      assert.match(before.postProcessing.error ?? '', /interrupted/);
      assert.ok(!readdirSync(proc.recordings).some((f) => f.endsWith('.part')), 'the stop removed the temp output');
    }

    // The next start encodes as fast as ffmpeg can: no window is needed any more.
    next = await spawnParley(yaml(state, apiPort), { recording: 'postProcess: ogg', recordings: proc.recordings });
    const saved = await waitFor('recording.saved with the post-processing done', async () => {
      const r = await api(`http://127.0.0.1:${apiPort}`, 'GET', '/events/recent');
      const events = (r.body?.events ?? []) as Array<{ type: string; data: Record<string, unknown> }>;
      return events.find((e) => e.type === 'recording.saved' && e.data.postProcessing === 'done');
    }, 90_000);
    const meta = readMeta(proc.recordings);
    assert.equal(meta.state, 'finalized');
    assert.deepEqual(meta.postProcessing, { format: 'ogg', state: 'done', error: null });
    const sources = [meta.mix, meta.stereo!, ...meta.legs.flatMap((l) => l.stems)].filter((e) => e.durationMs > 0);
    assert.deepEqual(meta.postProcessed.map((p) => p.source).sort(), sources.map((e) => e.file).sort(), 'every file encoded once');
    assert.equal(`${String(saved.data.id)}.json`, readdirSync(proc.recordings).find((f) => f.endsWith('.json')));
    const files = saved.data.files as string[];
    for (const p of meta.postProcessed) assert.ok(files.includes(p.file), `recording.saved names ${p.file}`);
    assert.ok(!readdirSync(proc.recordings).some((f) => f.endsWith('.part')), 'no temp output left');
    assert.deepEqual(meta.postProcessed.find((p) => p.source === first.source), first, 'the file encoded before the stop is kept, not encoded again');
    const mixOgg = meta.postProcessed.find((p) => p.source === meta.mix.file)!;
    for (const p of meta.postProcessed) {
      const src = sources.find((e) => e.file === p.source)!;
      const path = join(proc.recordings, p.file);
      const seconds = ffprobeSeconds(path);
      assert.ok(Math.abs(seconds * 1000 - src.durationMs) <= 100, `${p.file}: ${seconds} s of a ${src.durationMs} ms WAV`);
      assert.ok(Math.abs(p.durationMs - src.durationMs) <= 100, `${p.file}: sidecar ${p.durationMs} ms`);
    }
    const pcm = decodeWithFfmpeg(join(proc.recordings, mixOgg.file));
    assert.ok(pcm.length / 16000 >= (CALL_MS - 1000) / 1000, `the mix holds ${(pcm.length / 16000).toFixed(2)} s of a ${CALL_MS} ms call`);
    const tone = dominantTone(pcm, 16000, FREQS);
    assert.equal(tone.hz, 400, "the caller's tone");
    assert.ok(tone.share > 0.5, `400 Hz is ${tone.share.toFixed(2)} of the decoded mix`);
    assert.ok(next.lines.some((l) => l.msg === 'resuming post-processing interrupted by the last stop' || l.msg === 'unfinished recording repaired and finalized'));
  } finally {
    calls.kill();
    await calls.close();
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    if (next) await stopped(next);
  }
}

// The two cases share nothing (each its own Parley processes, folder, ports and call): they run side by side.
describe('post-processing interrupted by a stop is resumed at the next start', { concurrency: true }, () => {
  it('SIGTERM while ffmpeg encodes: the sidecar stays pending, the next start encodes and reports it', () => interruptEncode('SIGTERM'));
  it('kill -9 while ffmpeg encodes: the .part is replaced, the next start encodes and reports it', () => interruptEncode('SIGKILL'));
});

// A clean stop (SIGTERM) of a Parley process with 20 recorded calls up, a
// webhook receiver and a real S3-compatible recording store: every call gets a
// BYE, the process exits 0, every recording is finalized by that process (not
// left to the next start's repair) and plays in ffmpeg with its caller's tone
// for as long as the call lasted, and every call.ended, recording.saved and
// recording.stored reaches the receiver: during the stop, or from the spool and
// the upload journal at the next start. None is lost, none is sent twice. Encoding
// (ogg) cut short by the stop is resumed by the next start, which reports it again.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { decodeWithFfmpeg, dominantTone, ffprobeSeconds, hookApiYaml, recordFlowYaml, startHookReceiver, startToneCalls, type HookReceiver } from '../helpers/recorded-calls.ts';
import { startS3, storeConfig, type S3TestServer } from '../helpers/s3-server.ts';
import { finalSidecars, readSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { sippOk } from './helpers.ts';

const CALLS = 20;

let s3: S3TestServer;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3.stop();
});

function config(state: string, postProcess: 'none' | 'ogg', receiver: HookReceiver): { yaml: string; recording: string } {
  return {
    yaml: `\nshutdown: { drainTimeoutMs: 300 }${recordFlowYaml(120_000)}${hookApiYaml(state, receiver, ['call.ended', 'recording.saved', 'recording.stored'])}`,
    recording: `postProcess: ${postProcess}, store: ${JSON.stringify(storeConfig(s3, { journalFile: `${state}/uploads.json`, deleteLocal: false }))}`,
  };
}

async function stop(p: ParleyProcess | null): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGINT');
  await once(p.child, 'exit');
}

async function stopWithCallsUp(postProcess: 'none' | 'ogg'): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), 'parley-stop-'));
  const receiver = await startHookReceiver();
  const c = config(state, postProcess, receiver);
  const proc = await spawnParley(c.yaml, { recording: c.recording });
  let next: ParleyProcess | null = null;
  const calls = await startToneCalls(proc.sipPort, CALLS);
  try {
    await waitFor('every call recording and hearing Parley', () =>
      proc.lines.filter((l) => l.msg === 'recording started').length >= CALLS && calls.peers.every((p) => p.received.length >= 50) || undefined, 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    proc.child.kill('SIGTERM');
    const [code, signal] = (await once(proc.child, 'exit')) as [number | null, string | null];
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'a clean exit');
    sippOk(await calls.done, `the ${CALLS} callers (each waits for a BYE)`);
    assert.ok(!proc.lines.some((l) => Number(l.level) >= 50), `no error logged: ${JSON.stringify(proc.lines.filter((l) => Number(l.level) >= 50)).slice(0, 1500)}`);

    // Finalized by the stopping process, each with its own caller's tone, as long as its call.
    const metas = readSidecars(proc.recordings);
    assert.equal(metas.length, CALLS);
    const tones = new Set<number>();
    for (const m of metas) {
      assert.equal(m.state, 'finalized', `${m.mix.file}: finalized before the exit`);
      assert.equal(m.interrupted, undefined);
      assert.match(m.mix.sha256 ?? '', /^[0-9a-f]{64}$/);
      const path = join(proc.recordings, m.mix.file as string);
      const seconds = ffprobeSeconds(path);
      assert.ok(Math.abs(seconds * 1000 - m.mix.durationMs) <= 25, `${m.mix.file}: ffprobe ${seconds} s, sidecar ${m.mix.durationMs} ms`);
      const pcm = decodeWithFfmpeg(path);
      const t = dominantTone(pcm, 16000, calls.freqs);
      assert.ok(t.share > 0.5, `${m.mix.file}: ${t.hz} Hz is ${t.share.toFixed(2)} of the audio`);
      tones.add(t.hz);
      const peer = calls.peers[calls.freqs.indexOf(t.hz)]!;
      const heardMs = peer.received.at(-1)!.at - peer.received[0]!.at;
      assert.ok(Math.abs(m.mix.durationMs - heardMs) <= 1000, `${m.mix.file}: ${m.mix.durationMs} ms recorded of a call of ${Math.round(heardMs)} ms`);
      const wall = Date.parse(m.endedAt) - Date.parse(m.startedAt);
      assert.ok(Math.abs(m.mix.durationMs - wall) <= 1000, `${m.mix.file}: ${m.mix.durationMs} ms recorded between start and end ${wall} ms apart`);
    }
    assert.equal(tones.size, CALLS, 'one recording per call');
    const during = receiver.hits.length;

    // What the stop did not deliver, the next start does (spool, upload journal).
    next = await spawnParley(c.yaml, { recording: c.recording, recordings: proc.recordings });
    const ids = metas.map((m) => String(m.mix.file).replace(/\.mix\.wav$/, ''));
    // Encoding cut short by the stop stays 'pending' and is resumed by the next start, which reports it again.
    const finalPost = postProcess === 'ogg' ? 'done' : 'none';
    if (postProcess === 'ogg') assert.ok(metas.every((m) => m.postProcessing.state === 'pending' || m.postProcessing.state === 'done'), 'no encoding failed at the stop');
    const missing = (): string[] => [
      ...ids.filter((id) => !receiver.of('recording.saved').some((h) => h.data.id === id && h.data.postProcessing === finalPost)).map((id) => `recording.saved ${id}`),
      ...ids.filter((id) => !receiver.of('recording.stored').some((h) => h.data.id === id)).map((id) => `recording.stored ${id}`),
      ...(receiver.of('call.ended').length < CALLS ? [`call.ended: ${receiver.of('call.ended').length} of ${CALLS}`] : []),
    ];
    await waitFor('every event', () => missing().length === 0 || undefined, 60_000).catch(() => {
      throw new Error(`never delivered (${during} delivered during the stop): ${missing().join(', ')}`);
    });
    await new Promise((r) => setTimeout(r, 600)); // past the back-off cap: a duplicate would be here
    const deliveries = receiver.hits.map((h) => h.delivery);
    assert.equal(new Set(deliveries).size, deliveries.length, 'no delivery twice');
    const resumed = metas.filter((m) => m.postProcessing.state === 'pending').length;
    assert.equal(receiver.of('recording.saved').length, CALLS + resumed, 'one recording.saved per recording, and one more once its resumed encoding is done');
    for (const m of finalSidecars(proc.recordings)) assert.equal(m.postProcessing.state, finalPost, `${m.mix.file}: post-processing ${finalPost}`);
    assert.ok(receiver.of('recording.saved').every((h) => h.data.interrupted !== true), 'none repaired as interrupted');
    assert.equal(new Set(receiver.of('call.ended').map((h) => h.data.callId)).size, CALLS);
    for (const h of receiver.of('recording.stored')) {
      const m = metas.find((x) => String(x.mix.file).startsWith(String(h.data.id)));
      const mix = (h.data.objects as Array<{ file: string; size: number }>).find((o) => o.file === m.mix.file);
      assert.ok(mix, `${String(h.data.id)}: its mix is in the bucket`);
    }
  } finally {
    calls.kill();
    await calls.close();
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
    await stop(next);
    await receiver.close();
  }
}

describe('SIGTERM with 20 recorded calls up (SIPp, webhooks, s3rver)', () => {
  it('BYE to every call, every recording finalized and playable, every event delivered or spooled', () => stopWithCallsUp('none'));
  it('the same with post-processing (ogg) still running at the stop', () => stopWithCallsUp('ogg'));
});

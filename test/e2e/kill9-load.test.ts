// kill -9 of a Parley process under load, with webhooks and a real S3-compatible
// recording store (s3rver):
// - at a random moment while 6 calls are being recorded: the next start repairs
//   every recording (headers true to the data, at most a second missing, the
//   metadata complete, `interrupted`), reports each once (recording.saved) and
//   uploads each once, every object the size of its local file;
// - the moment the last of 6 finished recordings is finalized, while the uploads
//   hang (the store takes the PUTs and never answers): the next start resumes them
//   from the journal, and finishes the one caught between its final sidecar and
//   its signature, upload journal entry and recording.saved (its finalize mark);
//   each recording is saved and stored, nothing in the bucket differs from the files.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readWavFile } from '../helpers/audio-analysis.ts';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { decodeWithFfmpeg, dominantTone, ffprobeSeconds, hookApiYaml, recordFlowYaml, startHookReceiver, startToneCalls, type HookReceiver } from '../helpers/recorded-calls.ts';
import { startS3, storeConfig, type S3TestServer } from '../helpers/s3-server.ts';
import { readSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';

const CALLS = 6;

let s3: S3TestServer;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3.stop();
});

function config(state: string, receiver: HookReceiver, holdMs: number): { yaml: string; recording: string } {
  return {
    yaml: recordFlowYaml(holdMs) + hookApiYaml(state, receiver, ['recording.saved', 'recording.stored']),
    recording: `store: ${JSON.stringify(storeConfig(s3, { journalFile: `${state}/uploads.json`, deleteLocal: false }))}`,
  };
}

/** Every object s3rver holds under the recording's key prefix: file name → size. */
function bucketObjects(id: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of readdirSync(s3.directory, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('._S3rver_object')) continue;
    const path = join(e.parentPath, e.name);
    const m = new RegExp(`parley/${id}/(.+)\\._S3rver_object$`).exec(path);
    if (m) out.set(m[1]!, statSync(path).size);
  }
  return out;
}

/** After the restart: each recording saved once and stored once, its objects the local files. */
async function assertReportedAndStored(receiver: HookReceiver, recordings: string, ids: string[], once: boolean): Promise<void> {
  const missing = (): string[] => ids.flatMap((id) => ['recording.saved', 'recording.stored'].filter((t) => !receiver.of(t).some((h) => h.data.id === id)).map((t) => `${t} ${id}`));
  await waitFor('recording.saved and recording.stored of each', () => missing().length === 0 || undefined, 60_000).catch(() => {
    throw new Error(`never delivered: ${missing().join(', ')}`);
  });
  await new Promise((r) => setTimeout(r, 600)); // past the back-off cap: a duplicate would be here
  for (const id of ids) {
    // At least once: a kill between the spool write and the removal of the finalize mark reports it again.
    assert.ok(receiver.of('recording.saved').filter((h) => h.data.id === id).length <= (once ? 1 : 2), `${id}: saved ${once ? 'once' : 'at most twice'}`);
    assert.ok(receiver.of('recording.stored').filter((h) => h.data.id === id).length <= (once ? 1 : 2), `${id}: stored ${once ? 'once' : 'at most twice'}`);
    const objects = bucketObjects(id);
    const local = readdirSync(recordings).filter((f) => f.startsWith(`${id}.`) && !f.endsWith('.tmp'));
    assert.deepEqual([...objects.keys()].sort(), local.sort(), `${id}: the bucket holds exactly its files`);
    for (const f of local) assert.equal(objects.get(f), statSync(join(recordings, f)).size, `${id}/${f}: whole in the bucket`);
  }
}

async function stop(p: ParleyProcess | null): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGINT');
  await once(p.child, 'exit');
}

describe('kill -9 under load (6 recorded calls, webhooks, s3rver)', () => {
  it('at a random moment of the calls: every recording repaired, reported and stored once at the next start', async () => {
    const state = mkdtempSync(join(tmpdir(), 'parley-k9load-'));
    const receiver = await startHookReceiver();
    const c = config(state, receiver, 120_000);
    const proc = await spawnParley(c.yaml, { recording: c.recording });
    const calls = await startToneCalls(proc.sipPort, CALLS);
    let next: ParleyProcess | null = null;
    try {
      await waitFor('every call recording', () =>
        proc.lines.filter((l) => l.msg === 'recording started').length >= CALLS && calls.peers.every((p) => p.received.length >= 50) || undefined, 60_000);
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2000));
      const killedAt = performance.now();
      proc.child.kill('SIGKILL');
      await once(proc.child, 'exit');
      calls.kill();
      next = await spawnParley(c.yaml, { recording: c.recording, recordings: proc.recordings });
      const metas = await waitFor('every sidecar finalized', () => {
        const m = readSidecars(proc.recordings);
        return m.length === CALLS && m.every((x) => x.state === 'finalized') ? m : undefined;
      }, 30_000);
      const tones = new Set<number>();
      for (const m of metas) {
        assert.equal(m.interrupted, true);
        assert.ok(m.endedAt && m.legs.every((l: { joins: unknown[]; leaves: unknown[] }) => l.joins.length === l.leaves.length), `${m.mix.file}: its end and every leave`);
        for (const e of [m.mix, m.stereo, ...m.legs.flatMap((l: { stems: unknown[] }) => l.stems)]) {
          const path = join(proc.recordings, e.file as string);
          assert.equal(readWavFile(path).headerDataBytes, statSync(path).size - 44, `${e.file}: header == data`);
          assert.ok(Math.abs(ffprobeSeconds(path) * 1000 - e.durationMs) <= 25, `${e.file}: ffprobe and sidecar agree`);
          assert.match(e.sha256 ?? '', /^[0-9a-f]{64}$/);
        }
        const t = dominantTone(decodeWithFfmpeg(join(proc.recordings, m.mix.file as string)), 16000, calls.freqs);
        assert.ok(t.share > 0.5, `${m.mix.file}: ${t.hz} Hz is ${t.share.toFixed(2)} of the audio`);
        tones.add(t.hz);
        const peer = calls.peers[calls.freqs.indexOf(t.hz)]!;
        const callMs = killedAt - peer.received[0]!.at;
        assert.ok(m.mix.durationMs >= callMs - 1000, `${m.mix.file}: ${m.mix.durationMs} ms of a call killed after ${Math.round(callMs)} ms`);
      }
      assert.equal(tones.size, CALLS, 'one recording per call');
      await assertReportedAndStored(receiver, proc.recordings, metas.map((m) => String(m.mix.file).replace(/\.mix\.wav$/, '')), true);
      assert.ok(receiver.of('recording.saved').every((h) => h.data.interrupted === true));
    } finally {
      calls.kill();
      await calls.close();
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await stop(next);
      await receiver.close();
    }
  });

  it('killed as the last recording is finalized, uploads hanging: the next start finishes it and resumes the uploads; each saved and stored, the bucket equal to the files', async () => {
    const state = mkdtempSync(join(tmpdir(), 'parley-k9upload-'));
    const receiver = await startHookReceiver();
    const c = config(state, receiver, 2500);
    const proc = await spawnParley(c.yaml, { recording: c.recording });
    s3.mode = 'stallPut';
    const calls = await startToneCalls(proc.sipPort, CALLS);
    let next: ParleyProcess | null = null;
    try {
      await calls.done;
      // Killed within a few ms of the last sidecar turning 'finalized': inside the window
      // before its signature, its upload journal entry and its recording.saved are on disk.
      const until = Date.now() + 30_000;
      for (;;) {
        const m = readSidecars(proc.recordings);
        if (m.length === CALLS && m.every((x) => x.state === 'finalized')) break;
        assert.ok(Date.now() < until, 'every recording finalized in time');
        await new Promise((r) => setTimeout(r, 2));
      }
      proc.child.kill('SIGKILL');
      await once(proc.child, 'exit');
      s3.mode = 'pass';
      const ids = readSidecars(proc.recordings).map((m) => String(m.mix.file).replace(/\.mix\.wav$/, ''));
      assert.equal(ids.length, CALLS);
      next = await spawnParley(c.yaml, { recording: c.recording, recordings: proc.recordings });
      await assertReportedAndStored(receiver, proc.recordings, ids, false);
      for (const m of readSidecars(proc.recordings)) assert.equal(m.state, 'finalized');
    } finally {
      s3.mode = 'pass';
      calls.kill();
      await calls.close();
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await stop(next);
      await receiver.close();
    }
  });
});

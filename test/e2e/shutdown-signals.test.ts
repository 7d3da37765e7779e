// Signals at awkward moments of a Parley process's life:
// - SIGTERM twice (the second while the first drains, a third as it closes) with
//   recorded calls up: one clean stop, exit 0, no stack on stderr, every call
//   BYEd, every recording finalized, every call.ended and recording.saved
//   delivered (or spooled and delivered by the next start), none twice;
// - SIGTERM during start-up (the mediasoup workers are up, the SIP and API
//   listeners not yet) with an interrupted recording to repair: the process
//   finishes starting, stops cleanly (exit 0, no stack), and the recording is
//   repaired and reported once, by it or by the next start.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { recordThenKill9 } from '../helpers/kill9-recorder.ts';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { ffprobeSeconds, hookApiYaml, recordFlowYaml, startHookReceiver, startToneCalls, type HookReceiver } from '../helpers/recorded-calls.ts';
import { readSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { sippOk } from './helpers.ts';

const CALLS = 8;

function apiYaml(state: string, receiver: HookReceiver): string {
  return hookApiYaml(state, receiver, ['call.ended', 'recording.saved']);
}

const FLOWS = recordFlowYaml(120_000);

async function exitOf(p: ParleyProcess): Promise<{ code: number | null; signal: string | null }> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return { code: p.child.exitCode, signal: p.child.signalCode };
  const [code, signal] = (await once(p.child, 'exit')) as [number | null, string | null];
  return { code, signal };
}

async function stop(p: ParleyProcess | null): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGINT');
  await once(p.child, 'exit');
}

function assertCleanExit(p: ParleyProcess, exit: { code: number | null; signal: string | null }): void {
  assert.deepEqual(exit, { code: 0, signal: null }, `a clean exit; stderr: ${p.stderr().slice(0, 1500)}`);
  assert.doesNotMatch(p.stderr(), /\n\s+at /, 'no stack trace');
  const errors = p.lines.filter((l) => Number(l.level) >= 50);
  assert.equal(errors.length, 0, `no error logged: ${JSON.stringify(errors).slice(0, 1500)}`);
}

// The cases share nothing (each its own Parley processes, folders, ports, webhook receiver and calls): they run side by side.
describe('signals at the edges of a Parley process', { concurrency: true }, () => {
  it('SIGTERM twice (and a third as it closes) with recorded calls up: one clean stop, nothing lost or sent twice', async () => {
    const state = mkdtempSync(join(tmpdir(), 'parley-sig2-'));
    const receiver = await startHookReceiver();
    const yaml = `shutdown: { drainTimeoutMs: 30000 }\n${FLOWS}${apiYaml(state, receiver)}`;
    const proc = await spawnParley(yaml, { recording: 'postProcess: ogg' });
    let next: ParleyProcess | null = null;
    const calls = await startToneCalls(proc.sipPort, CALLS);
    try {
      await waitFor('every call recording', () =>
        proc.lines.filter((l) => l.msg === 'recording started').length >= CALLS && calls.peers.every((p) => p.received.length >= 50) || undefined, 60_000);
      proc.child.kill('SIGTERM');
      await proc.logged(/^draining$/);
      proc.child.kill('SIGTERM');
      await proc.logged(/^closing$/, 30_000).then(() => proc.child.kill('SIGTERM'), () => undefined);
      const exit = await exitOf(proc);
      assertCleanExit(proc, exit);
      assert.equal(proc.lines.filter((l) => l.msg === 'closed').length, 1, 'closed once');
      sippOk(await calls.done, `the ${CALLS} callers (each waits for a BYE)`);
      const metas = readSidecars(proc.recordings);
      assert.equal(metas.length, CALLS);
      for (const m of metas) {
        assert.equal(m.state, 'finalized', `${m.mix.file}: finalized before the exit`);
        const seconds = ffprobeSeconds(join(proc.recordings, m.mix.file as string));
        assert.ok(seconds > 0.5 && Math.abs(seconds * 1000 - m.mix.durationMs) <= 25, `${m.mix.file}: ffprobe ${seconds} s, sidecar ${m.mix.durationMs} ms`);
      }
      next = await spawnParley(`${FLOWS}${apiYaml(state, receiver)}`, { recordings: proc.recordings });
      await waitFor('every call.ended and recording.saved', () =>
        receiver.of('call.ended').length >= CALLS && receiver.of('recording.saved').length >= CALLS || undefined, 30_000);
      await new Promise((r) => setTimeout(r, 600)); // past the back-off cap: a duplicate would be here
      const ids = metas.map((m) => String(m.mix.file).replace(/\.mix\.wav$/, '')).sort();
      assert.deepEqual(receiver.of('recording.saved').map((h) => String(h.data.id)).sort(), ids, 'one recording.saved per recording');
      assert.equal(receiver.of('call.ended').length, CALLS, 'one call.ended per call');
    } finally {
      calls.kill();
      await calls.close();
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await stop(next);
      await receiver.close();
    }
  });

  it('SIGTERM during start-up: it starts, stops cleanly, and the interrupted recording it found is repaired and reported once', async () => {
    const state = mkdtempSync(join(tmpdir(), 'parley-sigstart-'));
    const recordings = join(state, 'recordings');
    const killed = await recordThenKill9(recordings, 1500);
    assert.equal(killed.signal, 'SIGKILL');
    const id = killed.files.find((f) => f.endsWith('.json'))!.replace(/\.json$/, '');
    const receiver = await startHookReceiver();
    const yaml = `${FLOWS}${apiYaml(state, receiver)}`;
    let next: ParleyProcess | null = null;
    const proc = await spawnParley(yaml, { recordings, ready: /^mediasoup workers started$/ });
    try {
      proc.child.kill('SIGTERM');
      const exit = await exitOf(proc);
      assertCleanExit(proc, exit);
      assert.ok(proc.lines.some((l) => l.msg === 'stop requested during start-up: stopping once started'));
      // Repaired by it or left whole for the next start: never half done.
      const [meta] = readSidecars(recordings);
      assert.ok(meta.state === 'finalized' || meta.state === 'recording', `sidecar state ${meta.state}`);
      next = await spawnParley(yaml, { recordings });
      await waitFor('recording.saved of the interrupted recording', () => receiver.of('recording.saved').length >= 1 || undefined, 30_000);
      await new Promise((r) => setTimeout(r, 600));
      const saved = receiver.of('recording.saved');
      assert.equal(saved.length, 1, 'reported once');
      assert.equal(saved[0]!.data.id, id);
      assert.equal(saved[0]!.data.interrupted, true);
      const [fixed] = readSidecars(recordings);
      assert.equal(fixed.state, 'finalized');
      const seconds = ffprobeSeconds(join(recordings, fixed.mix.file as string));
      assert.ok(seconds >= killed.killedAfter - 1, `the mix holds ${seconds} s of the ${killed.killedAfter.toFixed(2)} s recorded`);
    } finally {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await stop(next);
      await receiver.close();
    }
  });
});

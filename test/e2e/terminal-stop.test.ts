// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Parley run as a user runs it from a terminal (`bash scripts/start.sh`, the shipped
// parley.yaml's `log.pretty: true`, Ctrl-C to stop):
// - Ctrl-C signals the whole foreground process group, so the mediasoup workers get the
//   SIGINT too and exit by themselves: with a recorded call up, that is part of the stop
//   (no "mediasoup worker died" error, no worker started again while stopping, none left
//   running), the process exits 0 and the recording is finalized;
// - with `log.pretty`, the media threads' lines are human-readable as the main thread's
//   (they were JSON lines in the middle of the pretty output).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { ffprobeSeconds, recordFlowYaml, startToneCalls } from '../helpers/recorded-calls.ts';
import { readSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { sippOk } from './helpers.ts';

async function exitOf(p: ParleyProcess): Promise<{ code: number | null; signal: string | null }> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return { code: p.child.exitCode, signal: p.child.signalCode };
  const [code, signal] = (await once(p.child, 'exit')) as [number | null, string | null];
  return { code, signal };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ends what is left of a detached Parley's process group (a failed test). */
function killGroup(p: ParleyProcess): void {
  try {
    process.kill(-p.child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('Parley stopped from a terminal', () => {
  it('Ctrl-C (SIGINT to the process group, workers included) with a recorded call up: a clean stop, no worker died or replaced', async () => {
    const proc = await spawnParley(recordFlowYaml(120_000), { detached: true });
    const calls = await startToneCalls(proc.sipPort, 1);
    try {
      const started = proc.lines.find((l) => l.msg === 'mediasoup workers started');
      const workerPids = (started?.pids ?? []) as number[];
      assert.ok(workerPids.length > 0, 'the workers are logged');
      await waitFor('the call recording', () => proc.lines.some((l) => l.msg === 'recording started') && calls.peers[0]!.received.length >= 50 || undefined, 30_000);
      process.kill(-proc.child.pid!, 'SIGINT');
      const exit = await exitOf(proc);
      assert.deepEqual(exit, { code: 0, signal: null }, `a clean exit; stderr: ${proc.stderr().slice(0, 1500)}`);
      const errors = proc.lines.filter((l) => Number(l.level) >= 50);
      assert.equal(errors.length, 0, `no error logged: ${JSON.stringify(errors).slice(0, 1500)}`);
      assert.equal(proc.lines.filter((l) => /mediasoup worker (died|replaced)/.test(String(l.msg))).length, 0, 'no worker reported dead or started again');
      assert.deepEqual(workerPids.filter(alive), [], 'no mediasoup worker left running');
      sippOk(await calls.done, 'the caller (it waits for the BYE)');
      const metas = readSidecars(proc.recordings);
      assert.equal(metas.length, 1);
      assert.equal(metas[0]!.state, 'finalized');
      assert.ok(ffprobeSeconds(join(proc.recordings, metas[0]!.mix.file as string)) > 0.5, 'the mix holds the call');
    } finally {
      calls.kill();
      await calls.close();
      killGroup(proc);
    }
  });

  it('log.pretty: the media threads log human-readable lines too, no JSON among them', async () => {
    const proc = await spawnParley(recordFlowYaml(1000), { pretty: true, detached: true });
    const calls = await startToneCalls(proc.sipPort, 1);
    try {
      sippOk(await calls.done, 'the call (Parley hangs up after 1 s)');
      // The thread's own "room closed" line, with its component, in pino-pretty's layout.
      await waitFor("the media thread's line", () => proc.lines.some((l) => /^\s+component: "media-thread"$/.test(String(l.msg))) || undefined, 10_000).catch(() => undefined);
      process.kill(-proc.child.pid!, 'SIGINT');
      assert.deepEqual(await exitOf(proc), { code: 0, signal: null });
      const json = proc.lines.filter((l) => l.level !== undefined);
      assert.equal(json.length, 0, `JSON lines in the pretty log: ${JSON.stringify(json).slice(0, 800)}`);
      assert.ok(proc.lines.some((l) => /^\s+component: "media-thread"$/.test(String(l.msg))), 'the media thread logged, pretty');
    } finally {
      calls.kill();
      await calls.close();
      killGroup(proc);
    }
  });
});

// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// One Parley per recordings folder: a second Parley started on the first one's
// recording.dir (a copy of parley.yaml with only the ports changed, as the README's
// "other ports" paragraph once read) refuses to start, saying which process holds the
// folder and what to change, and touches nothing there: the first one's recording in
// progress is not taken for an interrupted one, and its audit log stays one chain.
// When the first one stops (its call still up), the recording is finalized and the folder is free again.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnParley, type ParleyProcess } from '../helpers/parley-process.ts';
import { recordFlowYaml, startToneCalls } from '../helpers/recorded-calls.ts';
import { readSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';

async function exitOf(p: ParleyProcess): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  const [code] = (await once(p.child, 'exit')) as [number | null];
  return code;
}

describe('one Parley per recordings folder', () => {
  it('a second Parley on the same recording.dir (other ports) refuses to start and leaves the first one\'s recording alone', async () => {
    // The call lasts until the first Parley stops (its flow holds 2 minutes): the second Parley's whole
    // start and refusal happen during it, however slow the machine (its start took over 8 s once in CI).
    const first = await spawnParley(recordFlowYaml(120_000));
    const calls = await startToneCalls(first.sipPort, 1);
    let second: ParleyProcess | null = null;
    try {
      await waitFor('the call recording', () => first.lines.some((l) => l.msg === 'recording started') || undefined, 20_000);
      second = await spawnParley(recordFlowYaml(120_000), { recordings: first.recordings, ready: /start-up failed/ });
      assert.equal(await exitOf(second), 1);
      assert.match(second.stderr(), new RegExp(`recording\\.dir: ${first.recordings} is in use by another Parley \\(pid ${first.child.pid}\\)`));
      assert.match(second.stderr(), /give this one its own recording\.dir in /);
      assert.ok(!second.lines.some((l) => /interrupted|repair/i.test(String(l.msg))), 'the second one repaired nothing');
      const during = readSidecars(first.recordings);
      assert.equal(during.length, 1);
      assert.equal(during[0]!.state, 'recording', 'still being recorded by the first one');
      // The first one stops: its call gets a BYE and its recording is finalized before it exits.
      first.child.kill('SIGINT');
      assert.equal(await exitOf(first), 0);
      await calls.done;
      assert.equal(readSidecars(first.recordings)[0]?.state, 'finalized', 'the recording finalized at the stop');
      assert.ok(!existsSync(join(first.recordings, '.parley', 'parley.pid')), 'the folder is released at the stop');
      const errors = first.lines.filter((l) => Number(l.level) >= 50);
      assert.equal(errors.length, 0, `no error logged: ${JSON.stringify(errors).slice(0, 800)}`);
    } finally {
      calls.kill();
      await calls.close();
      for (const p of [first, second]) if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
  });
});

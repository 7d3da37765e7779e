// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Parley closed with close() (a library user's plain close, no stop): the API closes
// at once and the recording up then finalizes after it, so its recording.saved goes
// nowhere. Its finalize mark must stay, and the next start on the same folder reports
// it (once). Before, the mark was removed as if reported and the event was lost.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { hookApiYaml, recordFlowYaml, startHookReceiver, startToneCalls } from '../helpers/recorded-calls.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';

describe('close() with a recording up', () => {
  it('the recording finalized after the API closed is reported by the next start, once', async () => {
    const state = mkdtempSync(join(tmpdir(), 'parley-close-report-'));
    const receiver = await startHookReceiver();
    const yaml = `${recordFlowYaml(120_000)}${hookApiYaml(state, receiver, ['recording.saved'])}`;
    const first = await startParley(yaml, { embedded: true });
    let next: RunningParley | null = null;
    const calls = await startToneCalls(first.sipPort, 1);
    try {
      await waitFor('the call recording and hearing Parley', () =>
        ((first.app.recordings?.open.size ?? 0) >= 1 && calls.peers[0]!.received.length >= 50) || undefined, 30_000);
      const id = [...first.app.recordings!.open.keys()][0]!;
      first.app.close();
      await first.app.recordings!.settled();
      await waitFor('the recording finalized', () => finalSidecars(first.recordingDir).some((m) => String(m.mix.file).startsWith(id)) || undefined, 10_000);
      await waitFor('the folder lock released', () => !existsSync(join(first.recordingDir, '.parley', 'parley.pid')) || undefined, 5000);
      assert.equal(receiver.of('recording.saved').length, 0, 'not reported by the closed Parley');

      next = await startParley(yaml, { embedded: true, recording: { dir: first.recordingDir } });
      await waitFor('the next start reports it', () => receiver.of('recording.saved').some((h) => h.data.id === id) || undefined, 20_000);
      await new Promise((r) => setTimeout(r, 600)); // past the back-off cap: a duplicate would be here
      const saved = receiver.of('recording.saved');
      assert.equal(saved.length, 1, 'reported once');
      assert.equal(saved[0]!.data.interrupted, false, 'finalized by the closed Parley, not repaired');
    } finally {
      calls.kill();
      await calls.close();
      await next?.stop();
      await receiver.close();
    }
  });
});

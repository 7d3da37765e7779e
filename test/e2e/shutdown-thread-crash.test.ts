// Both media threads die while Parley stops (media.threads: 2, 6 recorded calls
// up, the crash right after the stop began): the stop completes, every caller
// gets a BYE, every recording is finalized and plays in ffmpeg with its caller's
// tone for as long as the call lasted, and every call.ended and recording.saved
// reaches the webhook receiver once.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startParley } from '../helpers/parley-harness.ts';
import { decodeWithFfmpeg, dominantTone, ffprobeSeconds, hookApiYaml, recordFlowYaml, startHookReceiver, startToneCalls } from '../helpers/recorded-calls.ts';
import { readSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { sippOk } from './helpers.ts';

const CALLS = 6;

describe('media threads die during a stop (media.threads: 2)', () => {
  it('the stop completes; BYE to every call, every recording finalized and playable, every event delivered once', async () => {
    const state = mkdtempSync(join(tmpdir(), 'parley-stopcrash-'));
    const receiver = await startHookReceiver();
    const parley = await startParley(recordFlowYaml(120_000) + hookApiYaml(state, receiver, ['call.ended', 'recording.saved'], false), { mediaThreads: 2 });
    const calls = await startToneCalls(parley.sipPort, CALLS);
    try {
      const media = parley.app.media!;
      await waitFor('every call recording', () => parley.app.recordings!.open.size >= CALLS && calls.peers.every((p) => p.received.length >= 50) || undefined, 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      const threads = new Set([...parley.app.calls!.active.values()].map((a) => media.threadOf(a.call.room.id)));
      assert.equal(threads.size, 2, 'the calls run on both threads');
      const stopped = parley.app.shutdown(200);
      media.crashThreadForTest(0);
      media.crashThreadForTest(1);
      await stopped;
      sippOk(await calls.done, `the ${CALLS} callers (each waits for a BYE)`);
      const metas = readSidecars(parley.recordingDir);
      assert.equal(metas.length, CALLS);
      const tones = new Set<number>();
      for (const m of metas) {
        assert.equal(m.state, 'finalized', `${m.mix.file}: finalized`);
        const path = join(parley.recordingDir, m.mix.file as string);
        assert.ok(Math.abs(ffprobeSeconds(path) * 1000 - m.mix.durationMs) <= 25, `${m.mix.file}: header and sidecar agree`);
        const t = dominantTone(decodeWithFfmpeg(path), 16000, calls.freqs);
        assert.ok(t.share > 0.5, `${m.mix.file}: ${t.hz} Hz is ${t.share.toFixed(2)} of the audio`);
        tones.add(t.hz);
        const peer = calls.peers[calls.freqs.indexOf(t.hz)]!;
        const heardMs = peer.received.at(-1)!.at - peer.received[0]!.at;
        assert.ok(Math.abs(m.mix.durationMs - heardMs) <= 1000, `${m.mix.file}: ${m.mix.durationMs} ms recorded of a call of ${Math.round(heardMs)} ms`);
      }
      assert.equal(tones.size, CALLS, 'one recording per call');
      const ids = metas.map((m) => String(m.mix.file).replace(/\.mix\.wav$/, '')).sort();
      assert.deepEqual(receiver.of('recording.saved').map((h) => String(h.data.id)).sort(), ids, 'one recording.saved per recording, during the stop');
      assert.equal(receiver.of('call.ended').length, CALLS, 'one call.ended per call, during the stop');
    } finally {
      calls.kill();
      await calls.close();
      await parley.app.shutdown();
      await receiver.close();
    }
  });
});

// `kill -9` of a running Parley in the middle of a recorded call: every WAV of
// the recording is readable by sox and misses at most about a second of the
// call, and the metadata sidecar exists and names the legs. The next Parley on
// that folder repairs and finalizes it and sends recording.saved.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import { call as api, TEST_TOKEN } from '../helpers/api-client.ts';
import { readWavFile } from '../helpers/audio-analysis.ts';
import { freePort } from '../helpers/free-port.ts';
import { spawnParley } from '../helpers/parley-process.ts';
import { waitFor } from '../helpers/wait.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { startCallee, startCaller } from './helpers.ts';

describe('kill -9 mid-recording', () => {
  it('leaves playable WAVs missing at most a second, and the metadata', async () => {
    const proc = await spawnParley(`
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw: [{ answer: { early: true } }, { record: { action: start } }, { bridge: { ringTimeout: 10 } }]
`);
    const { child, recordings } = proc;
    const parley = { sipPort: proc.sipPort } as RunningParley;
    const callee = await startCallee('callee.xml', 1000);
    const caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: 440 });
    await callee.rtp.waitForPackets(100, 15_000);
    // 1.5 s of the mix written before the kill (a G.711 call is recorded at 8 kHz, 16-bit).
    await waitFor('1.5 s of the mix on disk', () => mixBytes(recordings) >= 44 + 1.5 * 8000 * 2 || undefined, 15_000);
    const started = await proc.logged(/^recording started$/);
    const elapsed = (Date.now() - Number(started.time)) / 1000;
    child.kill('SIGKILL');
    await once(child, 'exit');
    caller.kill();
    callee.kill();

    const files = readdirSync(recordings);
    const wavs = files.filter((f) => f.endsWith('.wav'));
    const sidecar = files.find((f) => f.endsWith('.json'));
    assert.ok(sidecar, 'the metadata sidecar exists');
    const meta = JSON.parse(readFileSync(join(recordings, sidecar), 'utf8')) as { legs: Array<{ role: string }> };
    assert.deepEqual(meta.legs.map((l) => l.role).sort(), ['caller', 'other']);
    assert.ok(wavs.some((f) => f.endsWith('.mix.wav')) && wavs.some((f) => f.endsWith('.stereo.wav')), `files: ${wavs.join(', ')}`);
    const mix = wavs.find((f) => f.endsWith('.mix.wav'))!;
    for (const f of wavs) {
      const seconds = Number(execFileSync('sox', ['--i', '-D', join(recordings, f)], { encoding: 'utf8' }).trim());
      assert.ok(seconds > 0, `${f} is readable and has audio`);
      if (f === mix) assert.ok(seconds >= elapsed - 1, `the mix holds ${seconds.toFixed(2)} s of the ${elapsed.toFixed(2)} s recorded`);
    }
    await caller.rtp.close();
    await callee.rtp.close();

    const apiPort = await freePort();
    const next = await spawnParley(`api: { enabled: true, port: ${apiPort}, token: ${TEST_TOKEN}, rulesStateFile: ${recordings}/../rules.json, webhookSpoolFile: ${recordings}/../spool.json }`, {
      recordings,
    });
    try {
      const saved = await waitFor('recording.saved for the interrupted recording', async () => {
        const r = await api(`http://127.0.0.1:${apiPort}`, 'GET', '/events/recent');
        return (r.body?.events as Array<{ type: string; data: Record<string, unknown> }> | undefined)?.find((e) => e.type === 'recording.saved');
      }, 20_000);
      assert.equal(saved.data.interrupted, true);
      assert.equal(`${String(saved.data.id)}.json`, sidecar);
      const fixed = JSON.parse(readFileSync(join(recordings, sidecar), 'utf8')) as RecordingMetadata;
      assert.equal(fixed.state, 'finalized');
      assert.equal(fixed.interrupted, true);
      assert.ok(fixed.endedAt);
      for (const e of [fixed.mix, fixed.stereo!, ...fixed.legs.flatMap((l) => l.stems)]) {
        const path = join(recordings, e.file);
        assert.equal(readWavFile(path).headerDataBytes, statSync(path).size - 44, `${e.file}: header == data`);
        assert.match(e.sha256 ?? '', /^[0-9a-f]{64}$/);
        const seconds = Number(execFileSync('sox', ['--i', '-D', path], { encoding: 'utf8' }).trim());
        assert.ok(Math.abs(seconds * 1000 - e.durationMs) <= 1, `${e.file}: sox ${seconds} s, sidecar ${e.durationMs} ms`);
      }
      assert.deepEqual(saved.data.files, [...[fixed.mix, fixed.stereo!, ...fixed.legs.flatMap((l) => l.stems)].map((e) => e.file), sidecar]);
    } finally {
      next.child.kill('SIGINT');
      await once(next.child, 'exit');
    }
  });
});

/** The size of the recording's mix file in `dir` so far (0 before it is made). */
function mixBytes(dir: string): number {
  const mix = readdirSync(dir).find((f) => f.endsWith('.mix.wav'));
  return mix ? statSync(join(dir, mix)).size : 0;
}

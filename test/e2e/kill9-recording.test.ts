// `kill -9` of a running Parley in the middle of a recorded call: every WAV of
// the recording is readable by sox and misses at most about a second of the
// call, and the metadata sidecar exists and names the legs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnParley } from '../helpers/parley-process.ts';
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
    await new Promise((r) => setTimeout(r, 1500));
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
  });
});

// A recorder process killed with SIGKILL leaves a WAV that sox reads, missing at
// most a second, and a sidecar that parses.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { purity, readWavFile, soxInfo, soxStat } from '../../helpers/audio-analysis.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-kill9-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('Recorder under kill -9', () => {
  it('leaves a playable WAV missing at most a second and a parseable sidecar', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../helpers/record-tone-child.ts'), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
    let startedAt = 0;
    let files: string[] = [];
    const lines = createInterface({ input: child.stdout });
    const killedAfter = await new Promise<number>((resolve, reject) => {
      child.on('exit', () => reject(new Error('child exited before being killed')));
      lines.on('line', (line) => {
        const m = JSON.parse(line) as { event: string; ms?: number; files?: string[] };
        if (m.event === 'started' && startedAt === 0) {
          startedAt = performance.now();
          files = m.files ?? [];
        }
        if (m.event === 'progress' && (m.ms ?? 0) >= 3000 && startedAt > 0) {
          child.kill('SIGKILL');
          resolve((performance.now() - startedAt) / 1000);
        }
      });
    });
    assert.equal(await exited, 'SIGKILL');
    const mix = join(dir, files.find((f) => f.endsWith('.mix.wav'))!);
    const info = soxInfo(mix);
    const stat = soxStat(mix);
    console.log(`killed after ${killedAfter.toFixed(2)} s; sox reads ${stat.seconds.toFixed(2)} s`);
    assert.equal(info.rate, 16000);
    assert.ok(stat.seconds >= killedAfter - 1, `${stat.seconds} s on disk, ${killedAfter} s elapsed`);
    const w = readWavFile(mix);
    assert.ok(purity(w.samples, 16000, 440) > 0.99, 'the audio is the tone');
    assert.ok(w.headerDataBytes <= w.samples.length * 2, 'the header never claims data that is not there');
    const stereo = join(dir, files.find((f) => f.endsWith('.stereo.wav'))!);
    assert.ok(soxStat(stereo).seconds >= killedAfter - 1);
    const meta = JSON.parse(readFileSync(join(dir, files.find((f) => f.endsWith('.json'))!), 'utf8')) as RecordingMetadata;
    assert.equal(meta.state, 'recording');
    assert.equal(meta.legs[0].uri, 'sip:alice@example.com');
    assert.ok(meta.durationMs >= (killedAfter - 1.5) * 1000, `sidecar duration ${meta.durationMs}`);
  });
});

// The prompts shipped in prompts/: each has its .txt source, is a small 16 kHz mono
// WAV that plays without a transcode, and says what its source says.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { PromptLibrary } from '../../../src/playback/prompt-library.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { bestCorrelation, envelope, purity, readWavFile } from '../../helpers/audio-analysis.ts';

const dir = resolve(import.meta.dirname, '../../../prompts');
const tmp = mkdtempSync(join(tmpdir(), 'parley-shipped-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('shipped prompts', () => {
  const lib = new PromptLibrary({ dir, cacheDir: join(tmp, 'cache'), log: silentLogger() });
  after(() => lib.close());
  const names = readdirSync(dir).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4));

  it('has the demo prompts, each a small 16 kHz mono WAV next to its .txt', () => {
    for (const n of ['record-notice', 'menu-main', 'invalid', 'enter-pin', 'joined', 'left']) assert.ok(names.includes(n), n);
    for (const n of names) {
      const w = readWavFile(join(dir, `${n}.wav`));
      assert.equal(w.sampleRate, 16000);
      assert.equal(w.channels, 1);
      assert.ok(statSync(join(dir, `${n}.wav`)).size < 200_000);
    }
  });

  it('speech prompts play without ffmpeg and match espeak-ng speaking their .txt', async () => {
    for (const n of names) {
      const text = readFileSync(join(dir, `${n}.txt`), 'utf8');
      const clip = await lib.load({ prompt: n }, 16000);
      assert.equal(clip.fromCache, false);
      if (text.startsWith('tones:')) continue;
      const ref = join(tmp, `${n}.wav`);
      execFileSync('espeak-ng', ['-v', 'en-us', '-s', '160', '-w', ref, text]);
      const r = readWavFile(ref);
      const c = bestCorrelation(envelope(r.samples, r.sampleRate), envelope(clip.samples, 16000), 40);
      assert.ok(c.r > 0.9, `${n}: correlation ${c.r.toFixed(3)}`);
    }
    assert.equal(lib.cache.stats.transcodes, 0);
  });

  it('joined rises 660 → 880 Hz and left falls 880 → 660 Hz', async () => {
    const j = (await lib.load({ prompt: 'joined' }, 16000)).samples;
    const l = (await lib.load({ prompt: 'left' }, 16000)).samples;
    assert.ok(purity(j, 16000, 660, 200, 1500) > 0.9 && purity(j, 16000, 880, 2200, 2000) > 0.9);
    assert.ok(purity(l, 16000, 880, 200, 1500) > 0.9 && purity(l, 16000, 660, 2200, 2000) > 0.9);
  });
});

// A wideband prompt made for a narrowband room (call/prompt-rate.ts): a 16 kHz WAV
// loaded at 8 kHz is transcoded once (real ffmpeg) and kept per prompt and rate. Its
// frequency response is that of the mixer's own 16 → 8 kHz filter (README,
// media.mixer.narrowband): flat (±0.5 dB) to 3.4 kHz, what lies above 4 kHz not
// folded back into that band (70 dB down).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PromptLibrary } from '../../../src/playback/prompt-library.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { toneAmplitude } from '../../helpers/audio-analysis.ts';

const AMPLITUDE = 0.25;
const IN_BAND = [300, 1000, 2000, 3000, 3400];
/** Above the 8 kHz Nyquist: each would alias to 8000 − f, inside the band. */
const ABOVE = [4600, 5000, 6000];

function dB(x: number): number {
  return 20 * Math.log10(x);
}

describe('a 16 kHz prompt played at 8 kHz', () => {
  let root: string;
  let lib: PromptLibrary;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'parley-prompt-8k-'));
    const prompts = join(root, 'prompts');
    mkdirSync(prompts);
    for (const f of [...IN_BAND, ...ABOVE]) {
      execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', join(prompts, `tone-${f}.wav`), 'synth', '1', 'sine', String(f), 'vol', String(AMPLITUDE)]);
    }
    lib = new PromptLibrary({ dir: prompts, cacheDir: join(root, 'cache'), log: silentLogger() });
  });

  after(() => {
    lib.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is flat to 3.4 kHz (±0.5 dB)', async () => {
    for (const f of IN_BAND) {
      const clip = await lib.load({ prompt: `tone-${f}` }, 8000);
      assert.equal(clip.sampleRate, 8000);
      assert.ok(Math.abs(clip.samples.length - 8000) < 80, `${f} Hz: ${clip.samples.length} samples for 1 s`);
      const level = dB(toneAmplitude(clip.samples, 8000, f, 1000, 6000) / AMPLITUDE);
      assert.ok(Math.abs(level) < 0.5, `${f} Hz at ${level.toFixed(2)} dB`);
    }
  });

  it('folds nothing above 4 kHz back into the band (70 dB down)', async () => {
    for (const f of ABOVE) {
      const clip = await lib.load({ prompt: `tone-${f}` }, 8000);
      const alias = dB(toneAmplitude(clip.samples, 8000, 8000 - f, 1000, 6000) / AMPLITUDE);
      assert.ok(alias < -70, `${f} Hz folds to ${8000 - f} Hz at ${alias.toFixed(1)} dB`);
    }
  });

  it('is transcoded once per prompt and rate: played again, it is the clip kept', async () => {
    const transcodes = lib.cache.stats.transcodes;
    const again = await lib.load({ prompt: 'tone-1000' }, 8000);
    assert.equal(lib.cache.stats.transcodes, transcodes);
    assert.equal(again.fromCache, true);
    const wide = await lib.load({ prompt: 'tone-1000' }, 16000);
    assert.equal(wide.sampleRate, 16000, 'the same prompt at another rate is another clip');
    assert.equal(wide.samples.length, 16000);
  });
});

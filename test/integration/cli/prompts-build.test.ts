// `parley prompts build` as a user runs it: every prompt file and every flow text
// into the cache at the mixer rate and at 8 kHz (media.mixer.narrowband, on by
// default: G.711 calls hear prompts made at 8 kHz), with a progress bar; a second
// run finds them cached.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promptFiles } from '../../../src/cli/prompts-build.ts';

function parley(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('bin/parley', args, { encoding: 'utf8', timeout: 60_000 }, (e, out, err) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }));
  });
}

describe('parley prompts build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-prompts-'));
  const cfg = join(dir, 'parley.yaml');
  writeFileSync(
    cfg,
    `prompts: { cacheDir: ${join(dir, 'cache')} }\nmedia: { mixer: { sampleRate: 48000 } }\nflows:\n  hi:\n    - say: { text: "welcome to parley" }\n    - hangup\n`,
  );
  const expected = promptFiles('prompts').length + 1;

  it('transcodes every prompt and speaks every flow text, with a progress bar', async () => {
    const r = await parley(['prompts', 'build', '--config', cfg]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^${expected} prompts ready \\(0 were cached already\\), 0 failed`));
    const bars = r.err.split('\n').filter((l) => /^\[[#.]{30}\] \d+\/\d+ /.test(l));
    assert.equal(bars.length, expected);
    assert.match(bars.at(-1)!, new RegExp(`^\\[#{30}\\] ${expected}/${expected} text: welcome to parley`));
    const cached = readdirSync(join(dir, 'cache')).filter((f) => f.endsWith('.wav'));
    assert.equal(cached.filter((f) => f.endsWith('-48000.wav')).length, expected, cached.join(' '));
    assert.equal(cached.filter((f) => f.endsWith('-8000.wav')).length, expected, cached.join(' '));
  });

  it('finds them all cached the second time', async () => {
    const r = await parley(['prompts', 'build', '--config', cfg]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^${expected} prompts ready \\(${expected} were cached already\\)`));
  });
});

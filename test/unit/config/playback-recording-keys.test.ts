import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/load-config.ts';

describe('config: prompts and recording keys', () => {
  it('has defaults for the voice, flush interval and pause mode', () => {
    const c = parseConfig('');
    assert.equal(c.prompts.voice, 'en-us');
    assert.equal(c.recording.flushIntervalMs, 250);
    assert.equal(c.recording.pauseMode, 'skip');
  });

  it('accepts valid values and names the key of an invalid one', () => {
    const c = parseConfig('recording:\n  pauseMode: silence\n  flushIntervalMs: 1000\nprompts:\n  voice: en-gb\n');
    assert.equal(c.recording.pauseMode, 'silence');
    for (const [yaml, key] of [
      ['recording:\n  flushIntervalMs: 5000\n', 'recording.flushIntervalMs'],
      ['recording:\n  pauseMode: drop\n', 'recording.pauseMode'],
      ['prompts:\n  voice: "en; rm -rf"\n', 'prompts.voice'],
    ]) {
      assert.throws(
        () => parseConfig(yaml),
        (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith(key + ':')),
      );
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callerWaitSpec, RINGBACK } from '../../../src/call/caller-wait-audio.ts';

describe('what a bridged caller hears while it waits (callerHears)', () => {
  const whisper = { prompt: 'record-notice' };
  it('ringback is the ringback tone; silence is nothing', () => {
    assert.deepEqual(callerWaitSpec('ringback', whisper), RINGBACK);
    assert.equal(callerWaitSpec('silence', whisper), null);
  });
  it('notice is the whisper again, or ringback when the bridge has no whisper', () => {
    assert.deepEqual(callerWaitSpec('notice', whisper), whisper);
    assert.deepEqual(callerWaitSpec('notice', undefined), RINGBACK);
  });
  it('a prompt is played as given', () => {
    assert.deepEqual(callerWaitSpec({ prompt: 'hold-music' }, whisper), { prompt: 'hold-music' });
  });
});

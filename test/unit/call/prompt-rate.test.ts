// The rate a prompt is made at for a room (prompt-rate.ts): 8 kHz only while the
// room mixes at 8 kHz, so a narrowband call's prompts are never resampled and a
// wideband listener never hears a prompt cut at 4 kHz.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promptRate } from '../../../src/call/prompt-rate.ts';
import type { MediaRoom } from '../../../src/media-plane/media-api.ts';

/** A room as promptRate reads it: its legs' codecs (null: still negotiating) and its mixer's last known rate. */
function room(codecs: (string | null)[], mixerSampleRate = 8000): MediaRoom {
  const legs = new Map(codecs.map((c, i) => [`leg${i}`, { media: c === null ? null : { codec: c } }]));
  return { legIds: [...legs.keys()], leg: (id: string) => legs.get(id), mixerSampleRate } as unknown as MediaRoom;
}

const wide = { sampleRate: 16000, narrowband: true };

describe('promptRate', () => {
  it('is 8 kHz in a room of G.711 legs mixing at 8 kHz', () => {
    assert.equal(promptRate(room(['PCMU']), wide), 8000);
    assert.equal(promptRate(room(['PCMU', 'PCMA']), wide), 8000);
  });

  it('ignores a leg still negotiating (the mixer does not hear it yet), but not a room with none that has media', () => {
    assert.equal(promptRate(room(['PCMU', null]), wide), 8000);
    assert.equal(promptRate(room([null]), wide), 16000);
    assert.equal(promptRate(room([]), wide), 16000);
  });

  it('is the mixer rate once a leg is wideband, even before the room says it switched', () => {
    assert.equal(promptRate(room(['PCMU', 'G722']), wide), 16000);
    assert.equal(promptRate(room(['opus'], 8000), { sampleRate: 48000, narrowband: true }), 48000);
  });

  it('is the mixer rate when the room says it mixes wideband (a browser through the hub is no leg)', () => {
    assert.equal(promptRate(room(['PCMU'], 16000), wide), 16000);
  });

  it('is the mixer rate with media.mixer.narrowband off', () => {
    assert.equal(promptRate(room(['PCMU']), { sampleRate: 16000, narrowband: false }), 16000);
    assert.equal(promptRate(room(['PCMU']), { sampleRate: 16000 }), 16000);
  });
});

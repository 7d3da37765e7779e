// A leg's holds in the sidecar (RecorderLegs.hold): one entry per hold, a change of direction
// ends one and starts the next, a repeat changes nothing, an unknown leg is ignored, and a
// hold still open stays `end: null`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newMetadata, type TimePoint } from '../../../src/recording/metadata.ts';
import { RecorderLegs } from '../../../src/recording/recorder-legs.ts';
import type { Stems } from '../../../src/recording/stems.ts';

const file = { file: 'x.wav', channels: 1, sampleRate: 8000, durationMs: 0, sha256: null };

describe('RecorderLegs.hold', () => {
  it('lists each hold with its direction, start and end', () => {
    const meta = newMetadata({ room: 'r', sampleRate: 8000, pauseMode: 'skip', startedAt: new Date(), mix: file, stereo: null, postProcess: 'none' });
    const legs = new RecorderLegs(meta, { start: () => undefined, end: () => undefined } as unknown as Stems);
    let ms = 0;
    const at = (): TimePoint => ({ roomMs: ms, fileMs: ms, at: new Date(ms).toISOString() });
    legs.join('caller', { role: 'caller' }, true, at);
    assert.equal(meta.legs[0]!.holds?.length, 0, 'a new leg has no holds');
    ms = 1000;
    assert.ok(legs.hold('caller', 'sendonly', at));
    ms = 1500;
    assert.equal(legs.hold('caller', 'sendonly', at), null, 'the same hold again: nothing');
    ms = 2000;
    assert.ok(legs.hold('caller', 'inactive', at), 'sendonly to inactive');
    ms = 3000;
    assert.ok(legs.hold('caller', null, at));
    assert.equal(legs.hold('caller', null, at), null, 'no hold to end');
    ms = 4000;
    legs.hold('caller', 'sendonly', at);
    assert.equal(legs.hold('nobody', 'sendonly', at), null, 'an unknown leg');
    assert.deepEqual(
      meta.legs[0]!.holds!.map((h) => [h.direction, h.start.fileMs, h.end?.fileMs ?? null]),
      [['sendonly', 1000, 2000], ['inactive', 2000, 3000], ['sendonly', 4000, null]],
    );
  });
});

// DigitDemand: when a call's leg runs in-band DTMF detection (media.inbandDtmf).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DigitDemand } from '../../../src/call/digit-demand.ts';
import type { MediaLeg } from '../../../src/media-plane/media-api.ts';

function fakeLeg(): { leg: MediaLeg; modes: (boolean | 'auto')[] } {
  const modes: (boolean | 'auto')[] = [];
  const leg = { isClosed: false, detectInbandDtmf: (on: boolean | 'auto') => modes.push(on) } as unknown as MediaLeg;
  return { leg, modes };
}

describe('DigitDemand', () => {
  it("'auto': detection while a step wants digits, off once the last releases; a release is idempotent", () => {
    const { leg, modes } = fakeLeg();
    const d = new DigitDemand(leg, false);
    assert.deepEqual(modes, [], 'nothing sent at start: a leg starts without a detector');
    const a = d.want();
    const b = d.want();
    assert.deepEqual(modes, ['auto']);
    a();
    a();
    assert.deepEqual(modes, ['auto'], 'still wanted by the other step');
    b();
    assert.deepEqual(modes, ['auto', false]);
  });

  it('a leg that sent a DTMF SIP INFO gets no detector, even while wanted, also with always', () => {
    for (const always of [false, true]) {
      const { leg, modes } = fakeLeg();
      const d = new DigitDemand(leg, always);
      const release = d.want();
      d.sipInfoSeen();
      d.sipInfoSeen();
      assert.deepEqual(modes, ['auto', false]);
      release();
      d.want();
      assert.deepEqual(modes.slice(2).every((m) => m === false), true, JSON.stringify(modes));
    }
  });

  it("'always': the detector stays on (telephone-event permitting) after the steps release", () => {
    const { leg, modes } = fakeLeg();
    const d = new DigitDemand(leg, true);
    d.want()();
    assert.deepEqual(modes, ['auto', 'auto']);
  });

  it('a closed leg is left alone', () => {
    const { leg, modes } = fakeLeg();
    (leg as { isClosed: boolean }).isClosed = true;
    new DigitDemand(leg, false).want();
    assert.deepEqual(modes, []);
  });
});

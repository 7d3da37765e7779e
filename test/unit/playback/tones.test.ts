import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dtmfFrequencies, renderTone } from '../../../src/playback/tones.ts';
import { detectDtmf, purity, rms, toneAmplitude } from '../../helpers/audio-analysis.ts';

describe('tones', () => {
  for (const rate of [16000, 48000]) {
    it(`renders each of the 16 DTMF digits so that a Goertzel detector reads it back (${rate} Hz)`, () => {
      const digits = '123A456B789C*0#D';
      const pcm = renderTone({ kind: 'dtmf', digits, toneMs: 80, gapMs: 60 }, rate);
      const step = Math.round(0.14 * rate);
      const tone = Math.round(0.08 * rate);
      const seen = [...digits].map((_, i) => detectDtmf(pcm, rate, i * step + rate * 0.01, tone - rate * 0.02));
      assert.equal(seen.join(''), digits);
      // the gaps are silent
      for (let i = 0; i < digits.length; i++) assert.equal(rms(pcm, i * step + tone, step - tone), 0);
    });
  }

  it('knows the DTMF frequency pairs and refuses other characters', () => {
    assert.deepEqual(dtmfFrequencies('5'), [770, 1336]);
    assert.deepEqual(dtmfFrequencies('#'), [941, 1477]);
    assert.equal(dtmfFrequencies('x'), null);
    assert.throws(() => renderTone({ kind: 'dtmf', digits: '1x' }, 16000), /not a DTMF digit/);
  });

  it('rings back with 440+480 Hz for 2 s, then 4 s of silence', () => {
    const rate = 16000;
    const pcm = renderTone({ kind: 'ringback' }, rate);
    assert.equal(pcm.length, 6 * rate);
    const on = { start: rate * 0.5, len: rate };
    assert.ok(toneAmplitude(pcm, rate, 440, on.start, on.len) > 0.15);
    assert.ok(toneAmplitude(pcm, rate, 480, on.start, on.len) > 0.15);
    assert.ok(toneAmplitude(pcm, rate, 1000, on.start, on.len) < 0.01);
    assert.equal(rms(pcm, 2 * rate + 10, 4 * rate - 10), 0);
  });

  it('beeps at the asked frequency and length; silence is zeros', () => {
    const pcm = renderTone({ kind: 'beep', frequencyHz: 660, durationMs: 300 }, 16000);
    assert.equal(pcm.length, 4800);
    assert.ok(purity(pcm, 16000, 660, 160, 4480) > 0.95);
    const s = renderTone({ kind: 'silence', durationMs: 100 }, 48000);
    assert.equal(s.length, 4800);
    assert.ok(s.every((v) => v === 0));
    assert.throws(() => renderTone({ kind: 'silence', durationMs: -1 }, 16000), /out of range/);
  });
});

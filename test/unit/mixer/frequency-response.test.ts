// Frequency response through the mixer's real codec pipelines: tones encoded
// the way a phone would send them, through InputPipeline (decode, resample to
// the room rate) and OutputPipeline (resample, encode), decoded again and
// measured by Goertzel against a 1 kHz reference. Issue 11: one PCMU → 16 kHz
// room → PCMU pass lost 2.7 dB at 2.5 kHz, 5.6 dB at 3 kHz and 8.9 dB at
// 3.4 kHz; G.711 itself is flat to 3.4 kHz, so the resampler must be too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CodecName } from '../../../src/mixer/codecs/audio-codec.ts';
import { InputPipeline, OutputPipeline } from '../../../src/mixer/codecs/codec-pipeline.ts';
import { G711Decoder, G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import { G722Decoder, G722Encoder } from '../../../src/mixer/codecs/g722.ts';
import { Resampler } from '../../../src/mixer/codecs/resampler.ts';
import { passbandHz } from '../../../src/mixer/codecs/resampler-filters.ts';
import { tone, toneAmplitude } from '../../helpers/audio-analysis.ts';

const FRAMES = 60; // 1.2 s: 0.2 s to settle, then 1 s measured (whole cycles of any whole-Hz tone)
const SETTLE = 10;
const AMPLITUDE = 8000; // −12 dBFS: well inside G.711's and G.722's range, far from the limiter

const db = (ratio: number): number => 20 * Math.log10(ratio);

interface LegCodec {
  rate: number;
  encoder(): { encode(pcm: Int16Array, out: Uint8Array): number };
  decoder(): { decode(payload: Uint8Array, out: Int16Array): number };
}

const LEG: Record<'PCMU' | 'G722', LegCodec> = {
  PCMU: { rate: 8000, encoder: () => new G711Encoder('ulaw'), decoder: () => new G711Decoder('ulaw') },
  G722: { rate: 16000, encoder: () => new G722Encoder(), decoder: () => new G722Decoder() },
};

/**
 * A tone as a leg sends it (encoded at the leg's rate), through a room of
 * `roomRate` and back out to a leg of the same codec, decoded: the amplitude of
 * `measureHz` (default: the tone) in what the far phone would play.
 */
function throughRoom(codec: 'PCMU' | 'G722', roomRate: number, hz: number, measureHz = hz): number {
  const leg = LEG[codec];
  const n = leg.rate / 50;
  const enc = leg.encoder();
  const dec = leg.decoder();
  const input = new InputPipeline(codec as CodecName, roomRate);
  const output = new OutputPipeline(codec as CodecName, roomRate);
  const payload = new Uint8Array(1500);
  const wire = new Uint8Array(1500);
  const room = new Int16Array(roomRate / 50);
  const heard = new Int16Array(n);
  const kept: number[] = [];
  for (let f = 0; f < FRAMES; f++) {
    const len = enc.encode(tone(hz, leg.rate, n, AMPLITUDE, f * n), payload);
    input.decode(payload.subarray(0, len), room);
    const outLen = output.encode(room, wire);
    dec.decode(wire.subarray(0, outLen), heard);
    if (f >= SETTLE) kept.push(...heard);
  }
  input.close();
  output.close();
  return toneAmplitude(kept, leg.rate, measureHz);
}

/** Level per tone in dB relative to the 1 kHz tone through the same path. */
function response(codec: 'PCMU' | 'G722', roomRate: number, tones: number[]): Map<number, number> {
  const ref = throughRoom(codec, roomRate, 1000);
  return new Map(tones.map((hz) => [hz, db(throughRoom(codec, roomRate, hz) / ref)]));
}

function describeResponse(r: Map<number, number>): string {
  return [...r].map(([hz, d]) => `${hz} Hz ${d.toFixed(2)} dB`).join(', ');
}

const NARROW_TONES = [200, 300, 500, 800, 1500, 2000, 2500, 3000, 3200, 3400];
const WIDE_TONES = [200, 500, 2000, 3400, 4000, 5000, 6000, 6500, 7000];

describe('frequency response through the codec pipelines (issue 11)', () => {
  for (const roomRate of [16000, 48000]) {
    it(`PCMU → ${roomRate / 1000} kHz room → PCMU: 200 Hz–3.4 kHz within ±0.5 dB of 1 kHz`, () => {
      const r = response('PCMU', roomRate, NARROW_TONES);
      for (const [hz, d] of r) assert.ok(Math.abs(d) <= 0.5, `${hz} Hz at ${d.toFixed(2)} dB (${describeResponse(r)})`);
    });
  }

  it('PCMU in an 8 kHz room (no resampling at all): 200 Hz–3.4 kHz within ±0.5 dB', () => {
    const r = response('PCMU', 8000, NARROW_TONES);
    for (const [hz, d] of r) assert.ok(Math.abs(d) <= 0.5, `${hz} Hz at ${d.toFixed(2)} dB (${describeResponse(r)})`);
  });

  it('G.722 → 48 kHz room (16 → 48 → 16 kHz) → G.722: 200 Hz–7 kHz within ±0.5 dB of G.722 without resampling', () => {
    // G.722's own QMF and ADPCM shape the top of its band; what the room adds is
    // the difference from a 16 kHz room, where the leg is not resampled at all.
    const resampled = response('G722', 48000, WIDE_TONES);
    const direct = response('G722', 16000, WIDE_TONES);
    for (const hz of WIDE_TONES) {
      const d = resampled.get(hz)! - direct.get(hz)!;
      assert.ok(Math.abs(d) <= 0.5, `${hz} Hz: ${d.toFixed(2)} dB from the codec alone (48 kHz room: ${describeResponse(resampled)}; 16 kHz room: ${describeResponse(direct)})`);
    }
    // And the whole path is still flat in absolute terms.
    for (const [hz, d] of resampled) assert.ok(Math.abs(d) <= 1, `${hz} Hz at ${d.toFixed(2)} dB through G.722 and the 48 kHz room`);
  });

  it('a 5 kHz tone in a 16 kHz room does not fold into a PCMU leg as 3 kHz (≤ −65 dB; −70 measured)', () => {
    const output = new OutputPipeline('PCMU', 16000);
    const dec = new G711Decoder('ulaw');
    const wire = new Uint8Array(160);
    const heard = new Int16Array(160);
    const kept: number[] = [];
    const level = 16000;
    for (let f = 0; f < FRAMES; f++) {
      const len = output.encode(tone(5000, 16000, 320, level, f * 320), wire);
      dec.decode(wire.subarray(0, len), heard);
      if (f >= SETTLE) kept.push(...heard);
    }
    const alias = db((32768 * toneAmplitude(kept, 8000, 3000)) / level);
    assert.ok(alias <= -65, `5 kHz folded to 3 kHz at ${alias.toFixed(1)} dB`);
  });

  it('a 3 kHz PCMU tone leaves no image at 5 kHz in a 16 kHz room (≤ −70 dB; −77 measured)', () => {
    const input = new InputPipeline('PCMU', 16000);
    const enc = new G711Encoder('ulaw');
    const payload = new Uint8Array(160);
    const room = new Int16Array(320);
    const kept: number[] = [];
    for (let f = 0; f < FRAMES; f++) {
      enc.encode(tone(3000, 8000, 160, AMPLITUDE, f * 160), payload);
      input.decode(payload, room);
      if (f >= SETTLE) kept.push(...room);
    }
    const image = db(toneAmplitude(kept, 16000, 5000) / toneAmplitude(kept, 16000, 3000));
    assert.ok(image <= -70, `image at 5 kHz: ${image.toFixed(1)} dB`);
  });
});

describe('resampler passband and stopband, per rate pair', () => {
  /** dB of `measureHz` in the output for a tone of `hz` at 10000, relative to 10000. */
  function level(from: number, to: number, hz: number, measureHz: number): number {
    const r = new Resampler(from, to);
    const nIn = from / 50;
    const out = new Int16Array(to / 50);
    const kept: number[] = [];
    for (let f = 0; f < 35; f++) {
      r.process(tone(hz, from, nIn, 10000, f * nIn), out);
      if (f >= 10) kept.push(...out);
    }
    return db((32768 * toneAmplitude(kept, to, measureHz)) / 10000);
  }

  // The mixer's pairs, plus 12 ↔ 48 kHz, which no room uses but which runs the general kernels.
  const PAIRS: [number, number][] = [[8000, 16000], [16000, 8000], [16000, 48000], [48000, 16000], [8000, 48000], [48000, 8000], [12000, 48000], [48000, 12000]];
  for (const [from, to] of PAIRS) {
    const low = Math.min(from, to);
    const pass = passbandHz(low);
    it(`${from / 1000} → ${to / 1000} kHz: flat to ${pass} Hz (±0.05 dB), images and aliases ≤ −65 dB`, () => {
      for (let hz = 100; hz <= pass; hz += 300) {
        const d = level(from, to, hz, hz);
        assert.ok(Math.abs(d) <= 0.05, `${hz} Hz at ${d.toFixed(3)} dB`);
      }
      const stop = low - pass; // where the transition band ends
      if (to > from) {
        // Images of a passband tone: k·low ± hz, below the output's Nyquist.
        for (const hz of [300, 1000, pass]) {
          for (let k = 1; k * low - hz < to / 2; k++) {
            for (const image of [k * low - hz, k * low + hz]) {
              if (image >= to / 2) continue;
              const d = level(from, to, hz, image);
              assert.ok(d <= -65, `${hz} Hz: image at ${image} Hz is ${d.toFixed(1)} dB`);
            }
          }
        }
      } else {
        // Tones in the stopband and where they fold to.
        for (let hz = stop; hz < from / 2; hz += 1700) {
          let alias = hz % low;
          if (alias > low / 2) alias = low - alias;
          if (alias === 0 || alias === low / 2) continue;
          const d = level(from, to, hz, alias);
          assert.ok(d <= -65, `${hz} Hz folds to ${alias} Hz at ${d.toFixed(1)} dB`);
        }
      }
    });
  }

  it('gives the same output however the input is cut into frames (state carries across them)', () => {
    for (const [from, to] of PAIRS) {
      const step = Math.max(1, from / to); // the smallest frame each direction takes
      const input = tone(1234, from, (3 * from) / 50, 12000);
      const whole = new Int16Array((input.length * to) / from);
      const r1 = new Resampler(from, to);
      for (let i = 0; i < input.length; i += from / 50) r1.process(input.subarray(i, i + from / 50), whole.subarray(((i * to) / from) | 0));
      const pieces = new Int16Array(whole.length);
      const r2 = new Resampler(from, to);
      // Odd-sized pieces (1·step, 3·step, …) also run the decimator's single-output tail.
      let i = 0;
      for (let size = step; i < input.length; size = size === step ? 3 * step : step) {
        const len = Math.min(size, input.length - i);
        r2.process(input.subarray(i, i + len), pieces.subarray((i * to) / from));
        i += len;
      }
      assert.deepEqual(Array.from(pieces), Array.from(whole), `${from} → ${to}`);
    }
  });

  it('rejects a frame it cannot take whole', () => {
    const r = new Resampler(48000, 16000);
    assert.throws(() => r.process(new Int16Array(959), new Int16Array(320)), RangeError);
    assert.throws(() => r.process(new Int16Array(960), new Int16Array(100)), RangeError);
  });
});

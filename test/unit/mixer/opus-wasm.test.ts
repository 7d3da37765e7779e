// Many Opus codecs in one thread, as a media thread holds them (one wasm heap): what one
// decodes must never reach another's memory. With opusscript's own wrapper every decode
// wrote its PCM at twice the address malloc gave it, over other codecs' buffers and state:
// after a few decoders had decoded a 60 ms frame, other legs' encoders failed ("Bad
// argument") and frees could trap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpusDecoder, OpusEncoder } from '../../../src/mixer/codecs/opus-codec.ts';
import { opusEngine } from '../../../src/mixer/codecs/opus-engine.ts';
import { OpusApplication, OpusWasm } from '../../../src/mixer/codecs/opus-wasm.ts';
import { medianToneShare, rms } from '../../helpers/audio-analysis.ts';

// The wasm build is the fallback where the parley-opus addon is not built: this file's
// codecs run on it (the engine is chosen at the first codec; each test file is its own process).
process.env.PARLEY_OPUS = 'wasm';

const RATE = 16000;
const FRAME = RATE / 50;

function tone(freq: number, n: number, offset: number): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * freq * (offset + i)) / RATE));
  return out;
}

describe('Opus codecs sharing one wasm heap', () => {
  it('60 legs, each decoding 60 ms frames and concealing: every encoder still encodes its own tone', () => {
    assert.equal(opusEngine().native, false, 'the codecs run on the wasm build');
    // 60 ms frames from a phone (one per packet), decoded by every leg's decoder.
    const phone = new OpusWasm(RATE, 1, OpusApplication.VOIP);
    const pcm60 = tone(700, 3 * FRAME, 0);
    const long = phone.encode(Buffer.from(pcm60.buffer), 3 * FRAME);
    const legs = Array.from({ length: 60 }, (_, k) => ({ dec: new OpusDecoder(RATE), enc: new OpusEncoder(RATE), check: new OpusDecoder(RATE), freq: 400 + 50 * (k % 30) }));
    const out = new Int16Array(FRAME);
    const packet = new Uint8Array(1500);
    const heard = legs.map(() => [] as number[]);
    try {
      for (let f = 0; f < 25; f++) {
        for (const [k, leg] of legs.entries()) {
          leg.dec.decode(long, out);
          leg.dec.decode(new Uint8Array(0), out); // a lost packet: concealed
          const n = leg.enc.encode(tone(leg.freq, FRAME, f * FRAME), packet);
          leg.check.decode(packet.subarray(0, n), out);
          if (f >= 5) heard[k].push(...out);
        }
      }
      for (const [k, leg] of legs.entries()) {
        const pcm = Int16Array.from(heard[k]);
        const share = medianToneShare(pcm, leg.freq, RATE);
        assert.ok(share > 0.8, `leg ${k}: ${(share * 100).toFixed(0)} % of its audio is its ${leg.freq} Hz tone`);
        assert.ok(rms(pcm) > 0.1, `leg ${k}: level ${rms(pcm).toFixed(3)} of full scale`);
      }
    } finally {
      for (const leg of legs) {
        leg.dec.close();
        leg.enc.close();
        leg.check.close();
      }
      phone.delete();
    }
  });

  it('encodes and decodes up to its limits in its own buffers: 120 ms in, 5,760 samples of concealment out', () => {
    const enc = new OpusWasm(RATE, 1, OpusApplication.VOIP);
    const dec = new OpusWasm(RATE, 1, OpusApplication.VOIP);
    try {
      const p = enc.encode(Buffer.from(tone(1000, 6 * FRAME, 0).buffer), 6 * FRAME);
      assert.equal(dec.decode(p).length, 6 * FRAME * 2, '120 ms decoded');
      assert.equal(dec.decode(new Uint8Array(0)).length, 5760 * 2, 'an empty packet conceals 5,760 samples');
      assert.throws(() => enc.encode(new Uint8Array(7 * FRAME * 2 * 3), 7 * FRAME), RangeError);
    } finally {
      enc.delete();
      dec.delete();
      dec.delete(); // idempotent
    }
  });
});

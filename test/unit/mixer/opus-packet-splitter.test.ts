// Opus packets of 40 and 60 ms (a phone set to a=ptime:40/60): their frame count read from the
// TOC byte (RFC 6716 §3.1), split onto a 20 ms grid for the jitter buffer, and decoded whole
// at the first frame with the rest played at the empty ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpusScript from 'opusscript';
import { OpusDecoder } from '../../../src/mixer/codecs/opus-codec.ts';
import { opusFrames20, OpusPacketSplitter } from '../../../src/mixer/opus-packet-splitter.ts';
import { tone, toneAmplitude } from '../../helpers/audio-analysis.ts';

/** One Opus packet of `ms` of a 440 Hz tone, as a phone's encoder at 16 kHz makes it. */
function packetOf(ms: number, enc: OpusScript, start = 0): Buffer {
  const n = (16000 * ms) / 1000;
  const pcm = tone(440, 16000, n, 8000, start);
  return enc.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), n);
}

describe('Opus packets of several 20 ms frames', () => {
  it('reads how many 20 ms frames a packet holds from its TOC byte', () => {
    const enc = new OpusScript(16000, 1, OpusScript.Application.VOIP);
    try {
      assert.equal(opusFrames20(packetOf(20, enc)), 1);
      assert.equal(opusFrames20(packetOf(40, enc)), 2);
      assert.equal(opusFrames20(packetOf(60, enc)), 3);
      assert.equal(opusFrames20(packetOf(10, enc)), 0, '10 ms is no whole number of 20 ms frames');
    } finally {
      enc.delete();
    }
    // Hand-made TOCs: CELT 20 ms (config 31) in code 3 with 3 frames; SILK 60 ms (config 3) alone; hybrid 10 ms ×2 (code 1).
    assert.equal(opusFrames20(Uint8Array.of((31 << 3) | 3, 3)), 3);
    assert.equal(opusFrames20(Uint8Array.of(3 << 3)), 3);
    assert.equal(opusFrames20(Uint8Array.of((12 << 3) | 1)), 1);
    assert.equal(opusFrames20(Uint8Array.of((31 << 3) | 3)), 0, 'code 3 without its count byte');
    assert.equal(opusFrames20(new Uint8Array(0)), 0);
  });

  it('splits each packet onto a 20 ms grid: the packet, then an empty entry per further 20 ms', () => {
    const out: [number, number, boolean, number][] = [];
    const s = new OpusPacketSplitter((seq, ts, marker, p) => out.push([seq, ts, marker, p.length]));
    const sixty = Uint8Array.of(3 << 3, 1, 2, 3);
    assert.equal(s.takes(Uint8Array.of(1 << 3, 1)), false, 'a 20 ms packet is not taken');
    assert.equal(s.takes(sixty), true);
    const t = 0xfffffd00; // the timestamp wraps on the way
    const at = (ticks: number): number => (t + ticks) >>> 0;
    s.push(65535, t, true, sixty);
    s.push(0, at(2880), false, sixty);
    assert.equal(s.takes(Uint8Array.of(1 << 3, 1)), true, 'once split, the whole stream is');
    assert.deepEqual(out, [
      [65535, t, true, 4],
      [0, at(960), false, 0],
      [1, at(1920), false, 0],
      [2, at(2880), false, 4],
      [3, at(3840), false, 0],
      [4, at(4800), false, 0],
    ]);
    s.reset();
    assert.equal(s.splitting, false);
  });

  it('decodes a 60 ms packet whole: its three 20 ms frames play the tone; an empty entry after a loss is concealed', () => {
    const enc = new OpusScript(16000, 1, OpusScript.Application.VOIP);
    const dec = new OpusDecoder(16000);
    try {
      const frame = new Int16Array(320);
      const levels: number[] = [];
      for (let p = 0; p < 4; p++) {
        const packet = packetOf(60, enc, p * 960);
        for (let i = 0; i < 3; i++) {
          dec.decode(i === 0 ? packet : new Uint8Array(0), frame);
          if (p > 0) levels.push(toneAmplitude(frame, 16000, 440));
        }
      }
      // The encoder's start-up aside, every 20 ms of every packet holds the tone (8000 of 32768: 0.24).
      assert.ok(levels.every((a) => a > 0.15), `440 Hz in each 20 ms: ${levels.map((a) => a.toFixed(2)).join(' ')}`);
      dec.conceal(frame);
      dec.decode(new Uint8Array(0), frame);
      assert.ok(frame.every((x) => x === 0), 'the rest of a lost packet is concealed, not the last one played again');
    } finally {
      enc.delete();
      dec.close();
    }
  });
});

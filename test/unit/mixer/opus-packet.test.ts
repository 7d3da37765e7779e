// Reading an Opus packet's framing (RFC 6716 §3.1, §3.2) for every legal packet length,
// and refusing the malformed ones (§3.4, R1-R7) before they reach a jitter buffer or a decoder.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpusApplication, OpusWasm } from '../../../src/mixer/codecs/opus-wasm.ts';
import { newOpusPacket, readOpusPacket } from '../../../src/mixer/opus-packet.ts';
import { tone } from '../../helpers/audio-analysis.ts';

/** A TOC byte: configuration (0..31), mono, frame packing code (0..3). */
const toc = (config: number, code: number): number => (config << 3) | code;
const CELT_2_5 = 16; // CELT-only narrowband 2.5 ms
const CELT_20 = 19;
const SILK_60 = 3;
const SILK_10 = 0;

describe('readOpusPacket: framing of every legal Opus packet length', () => {
  it('reads what libopus makes at 2.5, 5, 10, 20, 40, 60, 80, 100 and 120 ms: duration, frame count, frames covering the payload', () => {
    const enc = new OpusWasm(16000, 1, OpusApplication.VOIP);
    const p = newOpusPacket();
    try {
      for (const ms of [2.5, 5, 10, 20, 40, 60, 80, 100, 120]) {
        const n = (16000 * ms) / 1000;
        const pcm = tone(1000, 16000, n);
        const packet = enc.encode(Buffer.from(pcm.buffer), n);
        const ticks = readOpusPacket(packet, p);
        assert.equal(ticks, ms * 48, `${ms} ms: ${ticks / 48} ms read (${p.error})`);
        assert.equal(p.count * p.frameTicks, ticks);
        // The frames lie in the packet, in order, without overlap.
        let at = p.offsets[0];
        for (let i = 0; i < p.count; i++) {
          assert.ok(p.offsets[i] >= at && p.offsets[i] + p.lengths[i] <= packet.length, `${ms} ms: frame ${i} inside the packet`);
          at = p.offsets[i] + p.lengths[i];
        }
      }
    } finally {
      enc.delete();
    }
  });

  it('reads the four packings by hand: code 0, 1 (equal halves), 2 (a coded first length), 3 CBR and VBR with padding', () => {
    const p = newOpusPacket();
    assert.equal(readOpusPacket(Uint8Array.of(toc(CELT_2_5, 0), 7, 7), p), 120);
    assert.deepEqual([p.count, p.lengths[0]], [1, 2]);
    assert.equal(readOpusPacket(Uint8Array.of(toc(SILK_10, 1), 1, 2, 3, 4), p), 960, 'two 10 ms frames');
    assert.deepEqual([p.offsets[0], p.lengths[0], p.offsets[1], p.lengths[1]], [1, 2, 3, 2]);
    assert.equal(readOpusPacket(Uint8Array.of(toc(SILK_60, 2), 1, 9, 8, 8), p), 5760, 'two 60 ms frames, the first of 1 byte');
    assert.deepEqual([p.offsets[0], p.lengths[0], p.offsets[1], p.lengths[1]], [2, 1, 3, 2]);
    // A two-byte length (252 + 4·1 = 256) in code 2.
    const long = new Uint8Array(3 + 256 + 5);
    long.set([toc(CELT_20, 2), 252, 1]);
    assert.equal(readOpusPacket(long, p), 1920);
    assert.deepEqual([p.lengths[0], p.lengths[1]], [256, 5]);
    // Code 3 CBR: 48 frames of 2.5 ms (120 ms), 2 bytes each.
    const cbr = new Uint8Array(2 + 96);
    cbr.set([toc(CELT_2_5, 3), 48]);
    assert.equal(readOpusPacket(cbr, p), 5760);
    assert.equal(p.count, 48);
    assert.ok(Array.from(p.lengths.subarray(0, 48)).every((l) => l === 2));
    // Code 3 VBR with padding: 3 frames of 20 ms, lengths 1 and 2 coded, the last 3; padding 254 + 2 bytes.
    const vbr = new Uint8Array(2 + 2 + 2 + 6 + 256);
    vbr.set([toc(CELT_20, 3), 0x80 | 0x40 | 3, 255, 2, 1, 2, 0xa, 0xb, 0xb, 0xc, 0xc, 0xc]);
    assert.equal(readOpusPacket(vbr, p), 2880, p.error);
    assert.deepEqual([p.offsets[0], p.lengths[0], p.offsets[1], p.lengths[1], p.offsets[2], p.lengths[2]], [6, 1, 7, 2, 9, 3]);
    // A frame of length 0 (DTX, a dropped frame: §3.2.1) is legal.
    assert.equal(readOpusPacket(Uint8Array.of(toc(CELT_20, 3), 0x80 | 2, 0), p), 1920);
    assert.deepEqual([p.lengths[0], p.lengths[1]], [0, 0]);
  });

  const malformed: [string, Uint8Array][] = [
    ['empty (R1)', new Uint8Array(0)],
    ['code 0 frame over 1275 bytes (R2)', new Uint8Array(1277)],
    ['code 1 with an odd number of frame bytes (R3)', Uint8Array.of(toc(CELT_20, 1), 1, 2, 3)],
    ['code 2 without its length byte (R4)', Uint8Array.of(toc(CELT_20, 2))],
    ['code 2 with half a two-byte length (R4)', Uint8Array.of(toc(CELT_20, 2), 253)],
    ['code 2 first frame past the end (R4)', Uint8Array.of(toc(CELT_20, 2), 5, 1, 2)],
    ['code 3 without its frame count byte (R6)', Uint8Array.of(toc(CELT_20, 3))],
    ['code 3 with 0 frames (R5)', Uint8Array.of(toc(CELT_20, 3), 0, 1, 2)],
    ['code 3 of 7 × 20 ms = 140 ms (R5)', Uint8Array.of(toc(CELT_20, 3), 7, 1, 2, 3, 4, 5, 6, 7)],
    ['code 3 of 3 × 60 ms = 180 ms (R5)', Uint8Array.of(toc(SILK_60, 3), 3, 1, 2, 3)],
    ['code 3 of 49 × 2.5 ms (R5)', Uint8Array.of(toc(CELT_2_5, 3), 49)],
    ['code 3 CBR of unequal frames (R6)', Uint8Array.of(toc(CELT_20, 3), 2, 1, 2, 3)],
    ['code 3 padding longer than the packet (R6)', Uint8Array.of(toc(CELT_20, 3), 0x40 | 1, 10, 1, 2)],
    ['code 3 cut off in its padding length (R6)', Uint8Array.of(toc(CELT_20, 3), 0x40 | 1, 255)],
    ['code 3 VBR cut off in its frame lengths (R7)', Uint8Array.of(toc(CELT_20, 3), 0x80 | 3, 1)],
    ['code 3 VBR frames past the end (R7)', Uint8Array.of(toc(CELT_20, 3), 0x80 | 2, 9, 1, 2)],
  ];
  for (const [what, data] of malformed) {
    it(`refuses ${what}`, () => {
      const p = newOpusPacket();
      assert.equal(readOpusPacket(data, p), -1);
      assert.equal(p.count, 0);
      assert.notEqual(p.error, '', 'says why');
    });
  }
});

// A lost Opus packet is concealed by libopus (a TOC-only packet of 20 ms in the stream's
// mode): the lost slot is not silence, and the level after it stays where it was. Told
// nothing, a SILK or hybrid decoder came out up to 2.2× too loud for a few hundred ms.
// At most 60 ms of a loss are concealed; the rest is silence.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpusApplication, OpusWasm } from '../../../src/mixer/codecs/opus-wasm.ts';
import { OpusDecoder, plcTocOf } from '../../../src/mixer/codecs/opus-codec.ts';

/** 100 packets of 20 ms of a `hz` tone, encoded at 48 kHz and `bitrate`. */
function tonePackets(hz: number, bitrate: number): Buffer[] {
  const enc = new OpusWasm(48000, 1, OpusApplication.VOIP);
  enc.setBitrate(bitrate);
  const out: Buffer[] = [];
  for (let k = 0; k < 100; k++) {
    const b = Buffer.alloc(960 * 2);
    for (let i = 0; i < 960; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * (k * 960 + i)) / 48000)), i * 2);
    out.push(enc.encode(b, 960));
  }
  enc.delete();
  return out;
}

/** The rms of each 20 ms slot decoded at 16 kHz, packet `lost` (if any) concealed. */
function levels(packets: Buffer[], lost: number | null): number[] {
  const dec = new OpusDecoder(16000);
  const out = new Int16Array(320);
  const lv: number[] = [];
  packets.forEach((p, k) => {
    if (k === lost) dec.conceal(out);
    else dec.decode(p, out);
    let s = 0;
    for (const v of out) s += v * v;
    lv.push(Math.sqrt(s / out.length));
  });
  dec.close();
  return lv;
}

describe('Opus concealment of a lost packet', () => {
  it('plcTocOf: 20 ms, one frame, same mode, bandwidth and stereo bit', () => {
    assert.equal(plcTocOf(0 << 3), 1 << 3, 'SILK NB 10 ms → SILK NB 20 ms');
    assert.equal(plcTocOf(3 << 3), 1 << 3, 'SILK NB 60 ms → 20 ms');
    assert.equal(plcTocOf((9 << 3) | 3), 9 << 3, 'SILK WB 20 ms, code 3 → code 0');
    assert.equal(plcTocOf(14 << 3), 15 << 3, 'hybrid FB 10 ms → 20 ms');
    assert.equal(plcTocOf(16 << 3), 19 << 3, 'CELT NB 2.5 ms → 20 ms');
    assert.equal(plcTocOf((30 << 3) | 0x04 | 1), (31 << 3) | 0x04, 'CELT FB 10 ms stereo → 20 ms stereo');
  });

  for (const [name, bitrate] of [['SILK wideband (12 kb/s)', 12000], ['hybrid (20 kb/s)', 20000], ['CELT (32 kb/s)', 32000]] as const) {
    it(`${name}: the lost slot is filled, and the level after it stays within 1 dB of the stream without loss`, () => {
      const packets = tonePackets(1030, bitrate);
      const ref = levels(packets, null);
      const lv = levels(packets, 50);
      assert.ok(lv[50]! > 0.3 * ref[50]!, `the lost slot is concealed, not silence (${(lv[50]! / ref[50]!).toFixed(2)} of the level)`);
      const energy = (xs: number[]): number => xs.reduce((a, x) => a + x * x, 0);
      const db = 10 * Math.log10(energy(lv.slice(51, 85)) / energy(ref.slice(51, 85)));
      assert.ok(Math.abs(db) < 1, `the 680 ms after the loss are ${db.toFixed(2)} dB off`);
    });
  }

  it('a long loss: its first 60 ms concealed, the rest silence', () => {
    const packets = tonePackets(1030, 32000);
    const dec = new OpusDecoder(16000);
    const out = new Int16Array(320);
    for (let k = 0; k < 50; k++) dec.decode(packets[k]!, out);
    const lv: number[] = [];
    for (let k = 0; k < 6; k++) {
      dec.conceal(out);
      lv.push(Math.sqrt(out.reduce((a, v) => a + v * v, 0) / out.length));
    }
    dec.close();
    assert.ok(lv[0]! > 1000, `the first lost slot concealed (rms ${lv[0]!.toFixed(0)})`);
    assert.deepEqual(lv.slice(3), [0, 0, 0], `then silence: ${lv.map((x) => x.toFixed(0)).join(' ')}`);
  });

  it('before any packet, a lost slot is silence', () => {
    const dec = new OpusDecoder(16000);
    const out = new Int16Array(320).fill(1);
    dec.conceal(out);
    assert.ok(out.every((v) => v === 0));
    dec.close();
  });
});

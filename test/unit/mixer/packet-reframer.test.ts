// Cutting G.711/G.722 packets of other than 20 ms into 20 ms frames on the stream's own timestamps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PacketReframer } from '../../../src/mixer/packet-reframer.ts';

interface Frame {
  seq: number;
  ts: number;
  marker: boolean;
  bytes: number[];
}

function harness(codec: 'PCMU' | 'PCMA' | 'G722' | 'opus' = 'PCMU') {
  const frames: Frame[] = [];
  const r = new PacketReframer(codec, (seq, ts, marker, frame) => frames.push({ seq, ts, marker, bytes: [...frame] }));
  /** A packet of `ms` whose byte i is the low 8 bits of (its first clock tick + i): each byte names its place on the timeline. */
  const packet = (seq: number, ts: number, ms: number, marker = false): void => {
    const p = new Uint8Array(ms * 8);
    for (let i = 0; i < p.length; i++) p[i] = (ts + i) & 0xff;
    assert.ok(r.takes(p.length));
    r.push(seq, ts, marker, p);
  };
  return { r, frames, packet };
}

/** Whether frame f holds the timeline's bytes from its timestamp on. */
function continuous(f: Frame): boolean {
  return f.bytes.every((b, i) => b === ((f.ts + i) & 0xff));
}

describe('PacketReframer', () => {
  it('20 ms packets are not taken; opus never is', () => {
    const { r } = harness();
    assert.equal(r.takes(160), false);
    assert.equal(r.takes(240), true);
    assert.equal(harness('opus').r.takes(240), false);
  });

  for (const ms of [10, 30, 40, 60]) {
    it(`${ms} ms packets become 20 ms frames numbered on from the first packet, bytes in place`, () => {
      const { frames, packet } = harness();
      const ts0 = 0xfffff000; // the timestamp wraps on the way
      for (let i = 0; i < 12; i++) packet(65530 + i, (ts0 + i * ms * 8) >>> 0, ms, i === 0);
      const want = Math.floor((12 * ms) / 20);
      assert.equal(frames.length, want);
      frames.forEach((f, k) => {
        assert.equal(f.seq, (65530 + k) & 0xffff);
        assert.equal(f.ts, (ts0 + k * 160) >>> 0);
        assert.equal(f.bytes.length, 160);
        assert.ok(continuous(f), `frame ${k} holds its own bytes`);
      });
      assert.equal(frames[0]!.marker, true);
      assert.ok(frames.slice(1).every((f) => !f.marker));
    });
  }

  it('once a stream is cut, its 20 ms packets are too (one numbering)', () => {
    const { r, frames, packet } = harness();
    packet(1, 0, 30);
    assert.equal(r.takes(160), true);
    r.push(2, 240, false, new Uint8Array(160).map((_, i) => (240 + i) & 0xff));
    assert.deepEqual(frames.map((f) => f.seq), [1, 2]);
    assert.ok(frames.every(continuous));
  });

  it('a lost packet: the frame it ends goes out padded with silence, the next frame number skips the gap', () => {
    const { frames, packet } = harness('PCMA');
    packet(10, 0, 30); // frame 0, half of 1
    packet(12, 480, 30); // packet 11 (240..480) lost
    assert.deepEqual(frames.map((f) => f.seq), [10, 11, 13]);
    const f1 = frames[1]!;
    assert.ok(f1.bytes.slice(0, 80).every((b, i) => b === ((160 + i) & 0xff)), 'the half it had');
    assert.ok(f1.bytes.slice(80).every((b) => b === 0xd5), 'A-law silence for the rest');
    assert.ok(continuous(frames[2]!));
  });

  it('a late or duplicate packet is dropped; a jump of over 10 s starts a new grid, numbered on from the last one', () => {
    const { frames, packet } = harness();
    packet(1, 0, 40);
    packet(1, 0, 40);
    assert.equal(frames.length, 2);
    packet(2, 320, 40);
    assert.equal(frames.length, 4);
    packet(500, 8000 * 60, 40);
    assert.equal(frames.length, 6);
    // Not from the packet's own 500: the jitter buffer has played the grid's numbers (1 to 4).
    assert.deepEqual(frames.slice(4).map((f) => [f.seq, f.ts]), [[5, 480_000], [6, 480_160]]);
  });

  it('G.722: a frame whose end was lost goes out short (its own bytes only), one whose start was lost not at all', () => {
    const { frames, packet } = harness('G722');
    packet(10, 0, 30); // frame 0, half of 1
    packet(12, 480, 30); // packet 11 (240..480) lost: frame 1 lacks its end, frame 2 is gone
    packet(13, 720, 30); // frame 4's end, frame 5
    assert.deepEqual(frames.map((f) => [f.seq, f.bytes.length]), [[10, 160], [11, 80], [13, 160], [14, 160], [15, 160]]);
    assert.ok(frames.every(continuous), 'no byte but the stream\'s own: no fill (0xff is no G.722 silence)');
    // Lost: 960..1200 (frame 6 and the start of frame 7): frame 7 is left to the jitter buffer.
    packet(15, 1200, 30);
    packet(16, 1440, 30);
    assert.deepEqual(frames.slice(5).map((f) => [f.seq, f.bytes.length]), [[18, 160], [19, 160]]);
    assert.ok(frames.every(continuous));
  });

  it('flush: the partial frame of a stream that ended goes out (padded with silence for G.711, short for G.722)', () => {
    for (const codec of ['PCMU', 'G722'] as const) {
      const { r, frames, packet } = harness(codec);
      packet(1, 0, 30);
      assert.equal(frames.length, 1, 'half of frame 1 waits');
      r.flush();
      assert.equal(frames.length, 2);
      const f = frames[1]!;
      assert.deepEqual([f.seq, f.ts], [2, 160]);
      assert.ok(f.bytes.slice(0, 80).every((b, i) => b === ((160 + i) & 0xff)), 'the half it had');
      if (codec === 'PCMU') assert.ok(f.bytes.length === 160 && f.bytes.slice(80).every((b) => b === 0xff), 'µ-law silence for the rest');
      else assert.equal(f.bytes.length, 80, 'G.722: its own bytes only');
      r.flush();
      assert.equal(frames.length, 2, 'nothing twice');
    }
  });

  it('reset: a new stream decides again (its frames numbered from its first packet, which the splice moved on from the last frame the buffer got)', () => {
    const { r, frames, packet } = harness();
    packet(1, 0, 30);
    r.reset();
    assert.equal(r.takes(160), false);
    packet(900, 5000, 30);
    // The new stream's own numbering (stream-splice.ts gives it the one after the last frame the
    // jitter buffer got, a grid's or a 20 ms stream's): not the old grid's, which a 20 ms stream between may have passed.
    assert.equal(frames.at(-1)!.seq, 900);
  });
});

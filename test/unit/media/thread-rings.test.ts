// The SharedArrayBuffer rings between the main thread and a media thread, and
// the Player's held finish (its frames are heard later than they are pulled).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameRing } from '../../../src/media-plane/thread/frame-ring.ts';
import { TickRecord, TickRing } from '../../../src/media-plane/thread/tick-ring.ts';
import { RingPool } from '../../../src/media-plane/thread/ring-pool.ts';
import { SinkDrain } from '../../../src/media-plane/thread/source-pump.ts';
import { sinkRingBytes } from '../../../src/media-plane/thread/media-thread-handle.ts';
import type { MixTick } from '../../../src/mixer/frames.ts';
import { Player, type PlayerResult } from '../../../src/playback/player.ts';

const frame = (n: number, v: number): Int16Array => new Int16Array(n).fill(v);

describe('FrameRing', () => {
  it('passes frames in order across many wraps, refuses when full, pads short frames, ends, and clears', () => {
    const w = new FrameRing(4, 8);
    const r = new FrameRing(w.buffer, 8); // the reader's view of the same memory
    const out = new Int16Array(8);
    let next = 0;
    for (let round = 0; round < 50; round++) {
      while (w.push(frame(8, next + 1))) next++;
      assert.equal(w.buffered, 4, 'full at its capacity');
      for (let i = 0; i < 3; i++) {
        assert.ok(r.shift(out));
        assert.equal(out[7], next - 4 + i + 1);
      }
    }
    while (r.shift(out));
    assert.equal(r.buffered, 0);
    assert.ok(w.push(frame(3, 9)));
    assert.ok(r.shift(out));
    assert.deepEqual([...out], [9, 9, 9, 0, 0, 0, 0, 0], 'a short frame is zero-padded');
    assert.equal(r.ended, false);
    w.push(frame(8, 1));
    w.push(frame(8, 2));
    r.clear();
    assert.equal(r.buffered, 0, 'clear drops what is buffered');
    assert.equal(w.ended, true, 'and ends the ring');
  });
});

describe('TickRing', () => {
  it('carries ticks with varying leg counts across wraps; a full ring drops and counts', () => {
    const w = new TickRing(4096);
    const r = new TickRing(w.buffer);
    const n = 160;
    const slots = new Int32Array([7, 3, 11]);
    const rec = new TickRecord(); // reused for every record, as SinkDrain does
    let t = 0;
    let readT = 0;
    for (let round = 0; round < 200; round++) {
      const legs = round % 4; // 0..3 legs, one without a frame
      const frames = [frame(n, t + 1), null, frame(n, -(t + 1))].slice(0, legs);
      assert.ok(w.write(t, frame(n, t % 30000), legs, slots, frames), `tick ${t} fits`);
      t += 20;
      assert.ok(r.peek(rec));
      r.advance();
      assert.equal(rec.timeMs, readT);
      assert.equal(rec.mix[n - 1], readT % 30000);
      assert.equal(rec.count, round % 4);
      if (rec.count > 0) assert.deepEqual([rec.slots[0], rec.frames[0]![0]], [7, readT + 1]);
      if (rec.count > 1) assert.equal(rec.frames[1], null);
      if (rec.count > 2) assert.equal(rec.frames[2]![n - 1], -(readT + 1));
      readT += 20;
    }
    assert.equal(r.peek(rec), false);
    let written = 0;
    while (w.write(written, frame(n, 1), 0, slots, [])) written++;
    assert.ok(written > 5 && written < 4096 / (2 * n) + 2, `${written} ticks fill 4 KiB`);
    assert.equal(w.dropped, 1);
    assert.equal(w.write(0, frame(n, 1), 0, slots, []), false);
    assert.equal(r.dropped, 2, 'every refused tick is counted');
    for (let i = 0; i < written; i++) {
      assert.ok(r.peek(rec));
      assert.equal(rec.timeMs, i);
      r.advance();
    }
    assert.equal(r.peek(rec), false);
  });
});

describe("a recorder's ring size", () => {
  it('holds 2.5 s of ticks of four legs at the rate (at most 512 KiB): 256 KiB at 8 kHz, 512 KiB at 16 and 48 kHz', () => {
    assert.deepEqual([8000, 16000, 48000].map(sinkRingBytes), [256 * 1024, 512 * 1024, 512 * 1024]);
    for (const rate of [8000, 16000]) {
      const n = rate / 50;
      const ring = new TickRing(sinkRingBytes(rate));
      const slots = new Int32Array([0, 1, 2, 3]);
      const frames = [frame(n, 1), frame(n, 2), frame(n, 3), frame(n, 4)];
      let ticks = 0;
      while (ring.write(ticks * 20, frame(n, 0), 4, slots, frames)) ticks++;
      assert.ok(ticks >= 125, `${rate} Hz: ${ticks} ticks of four legs before the ring is full`);
      assert.ok(ticks < 250, `${rate} Hz: ${ticks} ticks: no more than twice what is asked`);
    }
  });
});

describe('SinkDrain', () => {
  it('hands the sink each tick with exactly the legs it carries, as the legs come, go and swap', () => {
    const names = new Map([[0, 'a'], [1, 'b'], [2, 'c']]);
    const got: { t: number; legs: [string, number | null][] }[] = [];
    const sink = {
      writeTick(tick: MixTick): void {
        got.push({ t: tick.timeMs, legs: [...tick.legs].map(([id, f]) => [id, f ? f[0]! : null] as [string, number | null]).sort() });
      },
    };
    const drain = new SinkDrain(1, sink, 8000, 64 * 1024, (slot) => names.get(slot), new RingPool());
    const w = new TickRing(drain.ring.buffer);
    const n = 160;
    const ticks: number[][] = [[0, 1], [0, 1], [0], [0, 2], [2, 0], [1, 2], [], [0, 1, 2], [0, 1, 2], [3, 0]];
    ticks.forEach((slots, i) => {
      const frames = slots.map((s) => (s === 1 && i === 1 ? null : frame(n, 10 * i + s)));
      assert.ok(w.write(20 * i, frame(n, i), slots.length, Int32Array.from(slots), frames));
    });
    // Slot 3 is not announced: its record waits (the announcement is on its way)...
    drain.drain(false);
    assert.equal(got.length, ticks.length - 1);
    const expect = ticks.slice(0, -1).map((slots, i) => ({
      t: 20 * i,
      legs: slots.map((s) => [names.get(s)!, s === 1 && i === 1 ? null : 10 * i + s] as [string, number | null]).sort(),
    }));
    assert.deepEqual(got, expect);
    // ...and on the last drain that leg's frame is left out.
    drain.drain(true);
    assert.deepEqual(got.at(-1), { t: 180, legs: [['a', 90]] });
    drain.close();
  });
});

describe('Player with a held finish (played from a media thread ring)', () => {
  const clip = { samples: new Int16Array(700).fill(5), sampleRate: 16000, label: 'x', fromCache: false };

  it("'done' waits until the last frame was heard", async () => {
    const p = new Player(clip, { sampleRate: 16000 });
    let heard!: () => void;
    p.holdFinish(new Promise<void>((r) => (heard = r)), () => assert.fail('not stopped'));
    const got: PlayerResult[] = [];
    p.on('finished', (r) => got.push(r));
    while (p.nextFrame() !== null);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, [], 'pulled to the end, not yet heard');
    heard();
    const r = await p.done;
    assert.equal(r.reason, 'done');
    assert.equal(r.framesPlayed, 3);
  });

  it('a stop or barge-in while the last frames are still heard finishes it at once and drops them', async () => {
    for (const how of ['stop', 'bargein'] as const) {
      const p = new Player(clip, { sampleRate: 16000, bargeIn: true });
      let dropped = 0;
      p.holdFinish(new Promise<void>(() => undefined), () => dropped++);
      while (p.nextFrame() !== null);
      if (how === 'stop') p.stop();
      else assert.equal(p.onDtmf('5'), true);
      const r = await p.done;
      assert.equal(r.reason, how === 'stop' ? 'stopped' : 'bargein');
      assert.equal(dropped, 1, 'the ring is told to drop its frames');
    }
  });
});

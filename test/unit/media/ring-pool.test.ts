// The rings between main and a media thread are used again (ring-pool.ts), but
// only once both ends let go: main gave the ring back and the thread's end
// (RingSink, RingSource) detached. The two ends run here in one thread on the
// same SharedArrayBuffer, as they do across threads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MixTick, TickSink } from '../../../src/mixer/frames.ts';
import { FrameRing } from '../../../src/media-plane/thread/frame-ring.ts';
import { RingPool } from '../../../src/media-plane/thread/ring-pool.ts';
import { SinkDrain, SourcePump } from '../../../src/media-plane/thread/source-pump.ts';
import { RingSink, RingSource } from '../../../src/media-plane/thread/thread-sources.ts';
import { TickRecord, TickRing } from '../../../src/media-plane/thread/tick-ring.ts';
import { Player } from '../../../src/playback/player.ts';
import { silentLogger } from '../../../src/util/logger.ts';

const log = silentLogger();
const N = 320;

/** A recorder stand-in: keeps each tick's time and its caller's first sample. */
class Ticks implements TickSink {
  readonly got: Array<[number, number, number | null]> = [];
  writeTick(t: MixTick): void {
    const f = t.legs.get('caller');
    this.got.push([t.timeMs, t.mix[0]!, f ? f[0]! : null]);
  }
}

function tick(timeMs: number, v: number): MixTick {
  return { timeMs, mix: new Int16Array(N).fill(v), legs: new Map([['caller', new Int16Array(N).fill(-v)]]) };
}

function threadSink(buffer: SharedArrayBuffer): RingSink {
  return new RingSink(1, buffer, 16000, () => 5, log);
}

describe('RingPool', () => {
  it('a tick ring given back is not handed out again until its writer detached; then it comes back empty', () => {
    const pool = new RingPool();
    const bytes = TickRing.bytesFor(64 * 1024);
    const a = pool.take(bytes);
    const writer = threadSink(a);
    const main = new TickRing(a);
    writer.writeTick(tick(0, 7));
    pool.give(a); // main is done with it; the thread has not processed sink.remove yet
    const b = pool.take(bytes);
    assert.notEqual(b, a, 'a ring the thread may still write is never handed out');
    assert.equal(pool.reused, 0);
    writer.writeTick(tick(20, 8)); // the old writer still writes: into its own ring, not b
    assert.equal(new TickRing(b).peek(new TickRecord()), false);
    writer.detach();
    writer.writeTick(tick(40, 9)); // after detach: nothing written, nothing counted
    const c = pool.take(bytes);
    assert.equal(c, a, 'once detached, it is used again');
    assert.equal(pool.reused, 1);
    assert.equal(main.peek(new TickRecord()), false, 'the header is cleared: the reused ring is empty');
    // A new sink on the reused ring: its reader sees only what the new writer writes.
    const reader = new TickRing(c);
    const rec = new TickRecord();
    assert.equal(reader.peek(rec), false, 'nothing of the old sink is read from the reused ring');
    threadSink(c).writeTick(tick(60, 3));
    assert.ok(reader.peek(rec));
    assert.deepEqual([rec.timeMs, rec.mix[0], rec.slots[0], rec.frames[0]![0]], [60, 3, 5, -3]);
    reader.advance();
    assert.equal(reader.peek(rec), false);
  });

  it('SinkDrain.close gives the ring back; RingSink.detach lets it go; rings of other sizes are not mixed', () => {
    const pool = new RingPool();
    const got = new Ticks();
    const drain = new SinkDrain(1, got, 16000, 32 * 1024, () => 'caller', pool);
    const sink = threadSink(drain.ring.buffer);
    for (let i = 0; i < 10; i++) sink.writeTick(tick(i * 20, i + 1));
    drain.drain(true);
    assert.deepEqual(got.got.map((g) => g[0]), [0, 20, 40, 60, 80, 100, 120, 140, 160, 180]);
    assert.deepEqual(got.got[9], [180, 10, -10], 'audio passes the ring intact');
    drain.close();
    drain.close(); // idempotent: given once
    assert.equal(pool.waitingCount, 1);
    sink.writeTick(tick(200, 1)); // the thread has not seen sink.remove yet
    drain.drain(true); // and main reads no more
    assert.equal(got.got.length, 10);
    assert.notEqual(pool.take(TickRing.bytesFor(32 * 1024)), drain.ring.buffer);
    sink.detach();
    assert.notEqual(pool.take(TickRing.bytesFor(16 * 1024)), drain.ring.buffer, 'another size: a new ring');
    assert.equal(pool.take(TickRing.bytesFor(32 * 1024)), drain.ring.buffer);
    assert.equal(pool.waitingCount, 0);
  });

  it('a frame ring goes back only once the thread source finished (played out or stopped)', () => {
    for (const how of ['played', 'stopped'] as const) {
      const pool = new RingPool();
      const clip = { samples: new Int16Array(3 * N).fill(1000), sampleRate: 16000, label: 'x', fromCache: false };
      const player = new Player(clip, { sampleRate: 16000 });
      const pump = new SourcePump(1, player, 16000, null, () => undefined, pool);
      pump.fill();
      const finished: boolean[] = [];
      const src = new RingSource(1, pump.ring.buffer, 16000, (_s, stopped) => finished.push(stopped));
      assert.equal(src.nextFrame()?.[0], 1000);
      // Main stops the source first (a hang-up): its ring is given back while the thread still holds it.
      if (how === 'stopped') pump.finish(true);
      const bytes = FrameRing.bytesFor(20, N);
      assert.notEqual(pool.take(bytes), pump.ring.buffer, `${how}: not reused while the thread source runs`);
      if (how === 'played') {
        while (src.nextFrame() !== null);
        assert.deepEqual(finished, [false]);
        assert.notEqual(pool.take(bytes), pump.ring.buffer, 'main has not given it back yet');
        pump.finish(false); // source.done reached main
      } else {
        src.stop(); // the thread's room closed
        assert.deepEqual(finished, [true]);
      }
      const again = pool.take(bytes);
      assert.equal(again, pump.ring.buffer, `${how}: used again once both ends let go`);
      const ring = new FrameRing(again, N);
      assert.equal(ring.buffered, 0);
      assert.equal(ring.ended, false, 'a reused frame ring starts open and empty');
      src.clear(); // a late source.clear for the old source touches nothing
      assert.equal(ring.ended, false);
    }
  });

  it('rings whose thread end never lets go are dropped, never reused, and the waiting list stays bounded', () => {
    const pool = new RingPool();
    const bytes = TickRing.bytesFor(1024);
    const stuck = pool.take(bytes);
    pool.give(stuck);
    for (let i = 0; i < 300; i++) pool.give(pool.take(bytes));
    assert.ok(pool.waitingCount <= 256, `${pool.waitingCount} waiting`);
    assert.ok(pool.abandoned >= 1);
    new TickRing(stuck).detach(); // too late: it was dropped
    for (let i = 0; i < 10; i++) assert.notEqual(pool.take(bytes), stuck);
    assert.equal(pool.reused, 0);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { MixTick } from '../../../src/mixer/frames.ts';
import { medianToneShare } from '../../helpers/audio-analysis.ts';
import { collect, envelope, inRoom, startEngine, waitForSound } from '../../helpers/media-harness.ts';

describe('two legs in a room (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('each hears the other\'s tone and not its own', () => inRoom(engine, 'two', async (room, join) => {
    const a = await join(room, { codec: 'PCMU' });
    const b = await join(room, { codec: 'PCMU' });
    a.peer.setTone(440);
    b.peer.setTone(1000);
    // Wait for steady sound at both ends (jitter buffers), then analyse 1 s.
    await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
    const [heardByA, heardByB] = await Promise.all([collect(a.peer, 50), collect(b.peer, 50)]);
    assert.ok(medianToneShare(heardByA, 1000, 8000) > 0.8, `A hears B's 1000 Hz (share ${medianToneShare(heardByA, 1000, 8000).toFixed(3)})`);
    assert.ok(medianToneShare(heardByA, 440, 8000) < 0.02, `A does not hear its own 440 Hz (share ${medianToneShare(heardByA, 440, 8000).toFixed(3)})`);
    assert.ok(medianToneShare(heardByB, 440, 8000) > 0.8, `B hears A's 440 Hz (share ${medianToneShare(heardByB, 440, 8000).toFixed(3)}; ${envelope(heardByB, 8000)})`);
    assert.ok(medianToneShare(heardByB, 1000, 8000) < 0.02, 'B does not hear its own 1000 Hz');
    // One stable SSRC per listener.
    assert.equal(new Set(a.peer.received.map((p) => p.ssrc)).size, 1);
  }));

  it('talk events follow a leg\'s voice; a TickSink gets the mix and each leg\'s input every 20 ms of room time', () => inRoom(engine, 'talk', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', id: 'a' });
    await join(room, { codec: 'PCMU', id: 'b' }); // someone to be mixed with
    const ticks: MixTick[] = [];
    let onTick = (): void => {};
    // A tick is valid only during writeTick (a media thread's drain reuses it): keep a copy.
    const copy = (t: MixTick): MixTick => ({ timeMs: t.timeMs, mix: t.mix.slice(), legs: new Map([...t.legs].map(([k, f]) => [k, f ? f.slice() : null])) });
    room.addSink({ writeTick: (t) => (ticks.push(copy(t)), onTick()) });
    const moreTicks = (k: number): Promise<void> => {
      const target = ticks.length + k;
      return new Promise((resolve) => (onTick = () => ticks.length >= target && resolve()));
    };
    const talk: boolean[] = [];
    const started = new Promise<void>((resolve) => a.leg.on('talk', (t) => (talk.push(t), t && resolve())));
    a.peer.setTone(440);
    await started;
    await moreTicks(15);
    const stopped = new Promise<void>((resolve) => a.leg.on('talk', (t) => !t && resolve()));
    a.peer.setSilence();
    await stopped;
    assert.deepEqual(talk, [true, false]);
    const n = room.mixerSampleRate / 50;
    assert.ok(ticks.length > 10);
    ticks.forEach((t, i) => i > 0 && assert.equal(t.timeMs - ticks[i - 1].timeMs, 20, 'reference time advances 20 ms per tick'));
    const loud = ticks.filter((t) => t.legs.get('a') && medianToneShare(t.legs.get('a')!, 440, room.mixerSampleRate, 20) > 0.9);
    assert.ok(loud.length > 5, 'a\'s own input is in the ticks');
    for (const t of loud) {
      assert.equal(t.mix.length, n);
      assert.ok(medianToneShare(t.mix, 440, room.mixerSampleRate, 20) > 0.9, 'the mix carries a');
    }
  }));

  it('a reordering, lossy sender is still heard cleanly (jitter buffer reorders, conceals losses)', () => inRoom(engine, 'rough', async (room, join) => {
    const a = await join(room, { codec: 'PCMU', reorder: true, dropEvery: 10 });
    const b = await join(room, { codec: 'PCMU' });
    a.peer.setTone(700);
    await waitForSound(b.peer);
    const heard = await collect(b.peer, 50);
    await engine.nextStats(); // with media threads the jitter figures are a snapshot: a fresh one
    const stats = a.leg.mixerParticipant!.jitterStats;
    assert.ok(stats.lost >= 3, `losses were concealed (${JSON.stringify(stats)})`);
    assert.ok(medianToneShare(heard, 700, 8000) > 0.8, `b hears a's tone (${medianToneShare(heard, 700, 8000).toFixed(3)}; ${envelope(heard, 8000)})`);
  }));
});

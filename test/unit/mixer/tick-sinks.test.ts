// What a room hands its recorders each tick (TickSink), on a real RoomMixer
// driven tick by tick: a sink that copies during writeTick (a media thread's
// ring, copiesFrames) gets one reused tick, mix and legs map, and exactly the
// audio a sink that keeps its ticks gets fresh, through forwarding, a prompt,
// a third leg and a hang-up; a sink that keeps its ticks keeps them intact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MixTick, TickSink } from '../../../src/mixer/frames.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { toneAmplitude } from '../../helpers/audio-analysis.ts';
import { DTMF_PT, Phone } from '../../helpers/mixer-phones.ts';
import { ToneSource } from '../../helpers/tone-source.ts';

const log = createLogger({ level: 'silent', pretty: false });

interface Copy {
  timeMs: number;
  mix: Int16Array;
  legs: [string, Int16Array | null][];
}

/** Copies each tick before writeTick returns, as a RingSink does; notes every object it was handed. */
class CopyingSink implements TickSink {
  readonly copiesFrames = true;
  readonly copies: Copy[] = [];
  readonly handed = new Set<object>();
  writeTick(t: MixTick): void {
    this.handed.add(t).add(t.mix).add(t.legs);
    this.copies.push({ timeMs: t.timeMs, mix: t.mix.slice(), legs: [...t.legs].map(([id, f]) => [id, f ? f.slice() : null]) });
  }
}

/** Keeps the ticks themselves, as a main-thread recorder queueing frames to its writers may. */
class KeepingSink implements TickSink {
  readonly ticks: MixTick[] = [];
  writeTick(t: MixTick): void {
    this.ticks.push(t);
  }
}

/** 80 ticks of a two-party call (seeded phones), a prompt at tick 20, a third leg from tick 40 to 60. */
function call(sinks: TickSink[]): RoomMixer {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 20, jitterMaxMs: 100, manualClock: true, log });
  for (const s of sinks) mixer.addSink(s);
  const phones = new Map<string, Phone>([
    ['a', new Phone(11)],
    ['b', new Phone(12)],
  ]);
  const join = (id: string): void => void mixer.createParticipant(id, { codec: 'PCMU', audioPt: 0, dtmfPt: DTMF_PT, dtmfClock: 8000, sendPt: 0, sendSsrc: 0x7000 + id.charCodeAt(0) }, () => false);
  join('a');
  join('b');
  for (let i = 0; i < 80; i++) {
    if (i === 20) mixer.play(new ToneSource(700, 8000, 10, 4000));
    if (i === 40) {
      phones.set('c', new Phone(13));
      join('c');
    }
    if (i === 60) {
      mixer.participant('c')!.close();
      phones.delete('c');
    }
    for (const [id, phone] of phones) mixer.participant(id)!.pushRtp(phone.next()!, i * 20);
    mixer.runTick();
  }
  return mixer;
}

function asCopies(ticks: readonly MixTick[]): Copy[] {
  return ticks.map((t) => ({ timeMs: t.timeMs, mix: t.mix, legs: [...t.legs] }));
}

describe('tick sinks', () => {
  it('a sink that copies gets one reused tick, and the same audio a keeping sink gets fresh, through forwarding, a prompt, a third leg and a hang-up', () => {
    const copying = new CopyingSink();
    const a = call([copying]);
    const keeping = new KeepingSink();
    const b = call([keeping]);
    // Both rooms forwarded, were mixed for the prompt and the third leg, and forwarded again.
    for (const m of [a, b]) assert.deepEqual({ mode: m.stats.mode, toForward: m.stats.toForward, toMixed: m.stats.toMixed }, { mode: 'forward', toForward: 3, toMixed: 2 });
    assert.equal(copying.copies.length, 80);
    assert.deepEqual(copying.copies, asCopies(keeping.ticks));
    assert.equal(copying.handed.size, 3, 'one tick object, one mix frame, one legs map for all 80 ticks');
    // The audio itself: the prompt is in the mix while it plays, the legs' noise throughout.
    const promptMix = Int16Array.from(copying.copies.slice(22, 30).flatMap((c) => [...c.mix]));
    assert.ok(toneAmplitude(promptMix, 8000, 700) * 32768 > 2000, 'the prompt is in the recorded mix');
    const late = copying.copies.at(-1)!;
    assert.deepEqual(
      late.legs.map(([id]) => id),
      ['a', 'b'],
      'the hung-up leg is gone from the legs',
    );
    for (const [, f] of late.legs) assert.ok(f && f.some((x) => Math.abs(x) > 500), 'each leg is heard');
    for (let i = 0; i < 160; i++) assert.equal(late.mix[i], late.legs[0][1]![i] + late.legs[1][1]![i]);
    a.close();
    b.close();
  });

  it('beside a sink that keeps its ticks, every sink gets fresh frames: what was kept is never overwritten', () => {
    const copying = new CopyingSink();
    const keeping = new KeepingSink();
    const m = call([copying, keeping]);
    assert.equal(copying.handed.size, 3 * 80, 'a fresh tick, mix and legs map every tick');
    assert.deepEqual(asCopies(keeping.ticks), copying.copies);
    const frames = new Set(keeping.ticks.flatMap((t) => [t.mix, ...t.legs.values()]).filter((f) => f !== null));
    assert.equal(frames.size, keeping.ticks.reduce((n, t) => n + 1 + [...t.legs.values()].filter((f) => f !== null).length, 0), 'no frame handed twice');
    m.close();
  });
});

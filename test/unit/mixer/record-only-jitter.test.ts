// The record-only jitter buffer (a leg nobody hears live: a SIPREC stream) against
// the mixing one, on the same stalled-then-burst stream: 200 packets on a 20 ms grid,
// packets 80..104 (500 ms) held back and pushed at once. The record-only buffer plays
// every packet in order; the mixing one (20–100 ms) drops most of the burst. The
// mixer's playOut() plays out what a record-only leg still holds at the end;
// LeadInTrim leaves the delay's silence at the start out of the recording; a room
// with record-only legs catches up on every tick a stall missed, up to their depth.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { FrameTicker } from '../../../src/mixer/frame-ticker.ts';
import type { MixTick, TickSink } from '../../../src/mixer/frames.ts';
import { JitterBuffer, LOST } from '../../../src/mixer/jitter-buffer.ts';
import { MixClock } from '../../../src/mixer/mix-clock.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { LeadInTrim } from '../../../src/recording/lead-in-trim.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { tone } from '../../helpers/audio-analysis.ts';
import { buildRtp } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
const PAYLOAD = new Uint8Array(160);

/** Pushes the stalled stream into `jb`, popping once per 20 ms tick; then pops (draining) until empty. Returns the seqs played. */
function play(jb: JitterBuffer): { played: number[]; lost: number; underruns: number } {
  const played: number[] = [];
  let lost = 0;
  const pop = (): boolean => {
    const s = jb.pop();
    if (s === LOST) lost++;
    else if (s !== null) played.push(s.seq);
    return s !== null;
  };
  for (let i = 0; i < 200; i++) {
    const now = i * 20;
    if (i < 80 || i >= 105) jb.push(i, i * 160, 0, PAYLOAD, now);
    if (i === 104) for (let k = 80; k <= 104; k++) jb.push(k, k * 160, 0, PAYLOAD, now);
    pop();
  }
  const underruns = jb.stats.underruns;
  jb.drain();
  for (let t = 0; t < 300 && pop(); t++);
  return { played, lost, underruns };
}

describe('record-only jitter buffer', () => {
  it('plays every packet of a 500 ms burst in order; sheds and overflows nothing', () => {
    const jb = new JitterBuffer(1000, 1000, 8000, true);
    const { played, lost, underruns } = play(jb);
    assert.deepEqual(played, Array.from({ length: 200 }, (_, i) => i));
    assert.equal(lost, 0);
    assert.equal(jb.stats.overflow + jb.stats.shed + jb.stats.late, 0);
    assert.equal(underruns, 0, 'a 1 s depth rides out a 500 ms stall');
    assert.equal(jb.targetMs, 1000);
  });

  it('the mixing buffer (20–100 ms) loses most of the same burst', () => {
    const jb = new JitterBuffer(20, 100, 8000);
    const { played } = play(jb);
    assert.ok(played.length <= 190, `${played.length} of 200 played`);
    assert.ok(jb.stats.overflow + jb.stats.shed > 0);
  });

  it('keeps a timestamp gap (DTX: 500 ms unsent, sequence numbers contiguous) as 500 ms of silence', () => {
    const jb = new JitterBuffer(1000, 1000, 8000, true);
    const out: string[] = [];
    const pop = (): void => {
      const x = jb.pop();
      out.push(x === null ? '.' : x === LOST ? 'L' : 'p');
    };
    for (let tick = 0; tick < 200; tick++) {
      if (tick < 50) jb.push(tick, tick * 160, 0, PAYLOAD, tick * 20);
      else if (tick >= 75 && tick < 125) jb.push(tick - 25, tick * 160, 0, PAYLOAD, tick * 20);
      pop();
    }
    jb.drain();
    for (let t = 0; t < 100; t++) pop();
    const played = out.join('').replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(played, 'p'.repeat(50) + '.'.repeat(25) + 'p'.repeat(50));
  });

  it('a stream shorter than the depth plays only once drained', () => {
    const jb = new JitterBuffer(1000, 1000, 8000, true);
    for (let i = 0; i < 10; i++) jb.push(i, i * 160, 0, PAYLOAD, i * 20);
    assert.equal(jb.pop(), null);
    jb.drain();
    const seqs: number[] = [];
    for (let s = jb.pop(); s !== null; s = jb.pop()) if (s !== LOST) seqs.push(s.seq);
    assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('RoomMixer.playOut', () => {
  it('writes what a record-only leg buffers into the sinks', () => {
    const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 20, jitterMaxMs: 100, manualClock: true, log });
    const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: null, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };
    const rec = mixer.createParticipant('rec', media, () => undefined, 'auto', 1000);
    const live = mixer.createParticipant('live', { ...media, sendSsrc: 2 }, () => undefined);
    rec.sending = false;
    live.sending = false;
    assert.equal(rec.recordOnly, true);
    assert.equal(live.recordOnly, false);
    const ticks: MixTick[] = [];
    const sink: TickSink = { writeTick: (t) => void ticks.push(t) };
    mixer.addSink(sink);
    const enc = new G711Encoder('ulaw');
    const out = new Uint8Array(160);
    // 30 packets of a tone (600 ms, under the 1 s depth), one tick each: nothing of it plays yet.
    for (let i = 0; i < 30; i++) {
      enc.encode(tone(440, 8000, 160, 8000, i * 160), out);
      rec.pushRtp(buildRtp({ payloadType: 0, seq: i, timestamp: i * 160, ssrc: 7, payload: Buffer.from(out) }), i * 20);
      mixer.runTick();
    }
    assert.equal(ticks.filter((t) => t.legs.get('rec')).length, 0);
    assert.equal(rec.buffered, 30);
    const ran = mixer.playOut();
    assert.equal(ran, 30);
    const heard = ticks.filter((t) => t.legs.get('rec'));
    assert.equal(heard.length, 30);
    assert.ok(heard.every((t, k) => k === 0 || t.timeMs === heard[k - 1]!.timeMs + 20), 'one frame per tick, in order');
    assert.equal(rec.buffered, 0);
    mixer.close();
  });
});

describe('RoomMixer.playOut with packets of 30 ms', () => {
  it('writes the last frame a stream left half full (the tone, then silence) into the sinks', () => {
    const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 20, jitterMaxMs: 100, manualClock: true, log });
    const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: null, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };
    const rec = mixer.createParticipant('rec', media, () => undefined, 'auto', 1000);
    rec.sending = false;
    const ticks: MixTick[] = [];
    mixer.addSink({ writeTick: (t) => void ticks.push(t) });
    const enc = new G711Encoder('ulaw');
    const pcm = tone(440, 8000, 11 * 240, 8000);
    const out = new Uint8Array(240);
    // 11 packets of 30 ms: 16 whole 20 ms frames and half of one.
    for (let i = 0; i < 11; i++) {
      enc.encode(pcm.subarray(i * 240, i * 240 + 240), out);
      rec.pushRtp(buildRtp({ payloadType: 0, seq: i, timestamp: i * 240, ssrc: 7, payload: Buffer.from(out) }), i * 30);
      mixer.runTick();
    }
    assert.equal(rec.buffered, 16, 'the half frame waits for the rest of its bytes');
    mixer.playOut();
    const heard = ticks.map((t) => t.legs.get('rec')).filter((x): x is Int16Array => !!x);
    assert.equal(heard.length, 17, 'the half frame is recorded too');
    const last = heard[16]!;
    const level = (a: Int16Array): number => Math.sqrt(a.reduce((n, x) => n + x * x, 0) / a.length);
    assert.ok(level(last.subarray(0, 80)) > 4000, `its first 10 ms hold the tone (rms ${level(last.subarray(0, 80)).toFixed(0)})`);
    assert.ok(level(last.subarray(80)) < 50, 'the rest is silence');
    mixer.close();
  });
});

describe('LeadInTrim', () => {
  const tick = (timeMs: number, audio: boolean): MixTick => ({ timeMs, mix: new Int16Array(160), legs: new Map([['s0', audio ? new Int16Array(160).fill(1) : null]]) });

  it('drops up to the delay of silent ticks at the start, then passes everything', () => {
    const got: number[] = [];
    const trim = new LeadInTrim({ sampleRate: 8000, writeTick: (t) => void got.push(t.timeMs) }, 100);
    assert.equal(trim.sampleRate, 8000);
    for (let i = 0; i < 8; i++) trim.writeTick(tick(i * 20, i === 7));
    // 5 silent ticks dropped (100 ms), the 2 silent ones after them kept (the audio arrived that late), then the audio.
    assert.deepEqual(got, [100, 120, 140]);
  });

  it('stops trimming at the first audio: a session shorter than the delay loses nothing', () => {
    const got: number[] = [];
    const trim = new LeadInTrim({ writeTick: (t) => void got.push(t.timeMs) }, 1000);
    for (let i = 0; i < 6; i++) trim.writeTick(tick(i * 20, i >= 2));
    assert.deepEqual(got, [40, 60, 80, 100]);
  });
});

describe('MixClock catch-up', () => {
  // A ticker whose grid started 1 s ago: the clock finds 50 ticks due at its first fire (a stalled thread).
  const stalled = { add: () => performance.now() - 1000, remove: () => undefined } as unknown as FrameTicker;

  it('runs 5 missed ticks by default and skips the rest; raised to a record-only depth it runs them all', () => {
    let ran = 0;
    const live = new MixClock(() => ran++, stalled);
    live.start();
    live.fire();
    assert.equal(ran, 5);
    assert.ok(live.stats.skipped >= 45);
    live.stop();
    ran = 0;
    const rec = new MixClock(() => ran++, stalled);
    rec.maxCatchUp = 50;
    rec.start();
    rec.fire();
    assert.ok(ran >= 50, `${ran} ticks run`);
    assert.equal(rec.stats.skipped, 0);
    rec.stop();
  });

  it('tells each tick of a catch-up the first tick of its run, and onSkip the latest tick skipped', () => {
    const seen: [number, number][] = [];
    const clock = new MixClock((t, runStart) => void seen.push([t, runStart]), stalled);
    let skippedTo = -1;
    clock.onSkip = (t) => {
      skippedTo = t;
    };
    clock.start();
    clock.fire();
    assert.deepEqual(seen, [[0, 0], [20, 0], [40, 0], [60, 0], [80, 0]]);
    assert.equal(skippedTo, (5 + clock.stats.skipped - 1) * 20);
    clock.stop();
  });

  it('a room gets the deeper catch-up with its first record-only leg', () => {
    const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 20, jitterMaxMs: 100, manualClock: true, log });
    const clock = (mixer as unknown as { clock: MixClock }).clock;
    const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: null, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };
    mixer.createParticipant('live', media, () => undefined);
    assert.equal(clock.maxCatchUp, 5);
    mixer.createParticipant('rec', { ...media, sendSsrc: 2 }, () => undefined, 'auto', 1000);
    assert.equal(clock.maxCatchUp, 50);
    mixer.close();
  });
});

// InbandDigits: the DTMF tones played to a listener without telephone-event. Each digit is its
// two Q.23 frequencies for its duration with 5 ms ramps, then 50 ms of silence; digits queue;
// the source ends (null) after the last gap. Checked with Parley's own Goertzel detector and by
// the samples themselves. EventTones: relayed RFC 4733 events to digits, also when their ends are lost.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventTones, InbandDigits } from '../../../src/mixer/inband-digits.ts';
import { dtmfDigitsIn, toneAmplitude } from '../../helpers/audio-analysis.ts';

/** Every frame until the source ends, joined. */
function drain(src: InbandDigits): { pcm: Int16Array; frames: number } {
  const parts: Int16Array[] = [];
  for (let f = src.nextFrame(); f !== null; f = src.nextFrame()) parts.push(Int16Array.from(f));
  const pcm = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    pcm.set(p, at);
    at += p.length;
  }
  return { pcm, frames: parts.length };
}

describe('InbandDigits (DTMF tones to a listener without telephone-event)', () => {
  it('one digit: its two frequencies for its duration, ramped in and out, then 50 ms of silence; then the source ends', () => {
    const src = new InbandDigits(8000);
    assert.ok(src.add('5', 100));
    const { pcm, frames } = drain(src);
    assert.equal(frames, 8, '100 ms of tone and 50 ms of gap: 7.5 frames, the last padded');
    assert.equal(src.done, true);
    assert.equal(src.add('1', 100), false, 'an ended source takes no more digits');
    const tone = pcm.subarray(0, 800);
    assert.ok(Math.abs(tone[0]!) < 50 && Math.abs(tone[799]!) < 300, `ramped: first ${tone[0]}, last ${tone[799]}`);
    assert.ok(pcm.subarray(800).every((v) => v === 0), 'silence after it');
    const mid = tone.subarray(100, 700);
    for (const hz of [770, 1336]) {
      const a = toneAmplitude(mid, 8000, hz);
      assert.ok(Math.abs(a - 0.22) < 0.02, `${hz} Hz at 0.22 of full scale: ${a.toFixed(3)}`);
    }
    for (const hz of [697, 852, 1209, 1477]) assert.ok(toneAmplitude(mid, 8000, hz) < 0.02, `nothing at ${hz} Hz`);
    assert.deepEqual(dtmfDigitsIn(pcm, 8000), ['5']);
  });

  it('queued digits, equal ones among them, are each heard (the gap parts them); at 16 and 48 kHz too', () => {
    for (const rate of [8000, 16000, 48000]) {
      const src = new InbandDigits(rate);
      for (const d of ['1', '1', '#', 'd']) assert.ok(src.add(d, 80));
      assert.deepEqual(dtmfDigitsIn(drain(src).pcm, rate), ['1', '1', '#', 'D'], `at ${rate} Hz`);
    }
  });

  it('a digit begun before its length is known plays from its turn until end() gives its length; one that played longer ends at once, ramped', () => {
    const src = new InbandDigits(8000);
    const d = src.begin('7');
    assert.ok(d);
    const first: Int16Array[] = [];
    for (let i = 0; i < 3; i++) first.push(Int16Array.from(src.nextFrame()!));
    assert.ok(first.every((f) => toneAmplitude(f.subarray(40), 8000, 852) > 0.1), 'the tone plays before its end is known');
    src.end(d, 100);
    src.end(d, 500); // a second end changes nothing
    const rest = drain(src).pcm;
    const all = new Int16Array(480 + rest.length);
    first.forEach((f, i) => all.set(f, i * 160));
    all.set(rest, 480);
    const lastLoud = all.findLastIndex((v) => Math.abs(v) > 200);
    assert.ok(lastLoud >= 770 && lastLoud < 800, `100 ms of tone in all: its last loud sample at ${lastLoud}`);
    assert.deepEqual(dtmfDigitsIn(all, 8000), ['7']);
    // Told 40 ms after 120 ms played: it ends at once, over its 5 ms ramp.
    const late = new InbandDigits(8000);
    const e = late.begin('3')!;
    const played: number[] = [];
    for (let i = 0; i < 6; i++) played.push(...late.nextFrame()!);
    late.end(e, 40);
    const tail = drain(late).pcm;
    const lastTail = tail.findLastIndex((v) => v !== 0);
    assert.ok(lastTail >= 0 && lastTail < 40, `ramped out within 5 ms: last sample at ${lastTail}`);
    // Never ended (its end packets all lost and nothing else came): 5 s at most.
    const held = new InbandDigits(8000);
    held.begin('1');
    assert.equal(drain(held).frames, Math.ceil((5000 + 50) / 20));
  });

  it('refuses what is not a digit and a 33rd digit waiting; stop() ends it at once', () => {
    const src = new InbandDigits(8000);
    assert.equal(src.add('x', 100), false);
    assert.equal(src.add('12', 100), false);
    for (let i = 0; i < 32; i++) assert.ok(src.add('0', 40));
    assert.equal(src.add('0', 40), false);
    assert.notEqual(src.nextFrame(), null);
    src.stop();
    assert.equal(src.nextFrame(), null);
    assert.equal(src.done, true);
  });
});

/** An RFC 4733 payload: `event`, the end bit, `duration` in clock ticks. */
const ev = (event: number, end: boolean, duration: number): Uint8Array => Uint8Array.of(event, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff);

describe('EventTones (relayed RFC 4733 events to the digits played in-band)', () => {
  it('one digit per event at its end, for its duration; the end three times and a late packet play nothing more; events 16 and up are not digits', () => {
    const played: string[] = [];
    const t = new EventTones((d, ms) => played.push(`${d}:${ms}`));
    for (const k of [1, 2, 3]) t.packet(7, 1000, ev(5, false, k * 400), 8000);
    assert.deepEqual(played, [], 'nothing before its end');
    for (let r = 0; r < 3; r++) t.packet(7, 1000, ev(5, true, 1600), 8000);
    t.packet(7, 1000, ev(5, false, 1200), 8000); // reordered, late
    t.packet(7, 2000, ev(16, true, 800), 8000); // flash: not a digit
    t.packet(7, 3000, ev(11, true, 4800), 48000); // # at 48 kHz: 100 ms
    assert.deepEqual(played, ['5:200', '#:100']);
    t.close();
  });

  it('with begin: a digit starts at its first packet and ends with its end packet, or, its ends lost, at the next event or 250 ms after its last packet', async () => {
    const log: string[] = [];
    const t = new EventTones(
      (d, ms) => log.push(`play ${d}:${ms}`),
      (d) => {
        log.push(`begin ${d}`);
        return (ms) => log.push(`end ${d}:${ms}`);
      },
    );
    t.packet(7, 1000, ev(5, false, 400), 8000);
    assert.deepEqual(log, ['begin 5'], 'its tone starts with the key');
    t.packet(7, 1000, ev(5, false, 800), 8000);
    for (let r = 0; r < 3; r++) t.packet(7, 1000, ev(5, true, 1600), 8000);
    assert.deepEqual(log, ['begin 5', 'end 5:200']);
    t.packet(7, 2000, ev(11, true, 800), 8000); // only its end came: played whole
    t.packet(7, 3000, ev(1, false, 400), 8000);
    t.packet(7, 4000, ev(2, false, 400), 8000); // 1 lost its ends
    assert.deepEqual(log.slice(2), ['play #:100', 'begin 1', 'end 1:50', 'begin 2']);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(log.slice(6), ['end 2:50'], 'ended once nothing came for 250 ms');
    t.close();
  });

  it('an event whose ends were all lost is played at the next event, or after 250 ms without a packet, as long as it went', async () => {
    const played: string[] = [];
    const t = new EventTones((d, ms) => played.push(`${d}:${ms}`));
    t.packet(7, 1000, ev(1, false, 400), 8000);
    t.packet(7, 1000, ev(1, false, 800), 8000);
    t.packet(7, 2000, ev(2, false, 400), 8000); // a new event: 1 lost its ends
    assert.deepEqual(played, ['1:100']);
    t.packet(7, 2000, ev(2, false, 960), 8000);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(played, ['1:100'], 'not yet: its packets may still come');
    await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(played, ['1:100', '2:120'], 'played once nothing came for 250 ms');
    t.packet(7, 2000, ev(2, true, 960), 8000); // its end after all: played already
    assert.deepEqual(played, ['1:100', '2:120']);
    t.close();
  });
});

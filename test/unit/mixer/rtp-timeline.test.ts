// Each listener's RTP stream (RtpOutput) on a real RoomMixer driven tick by
// tick (manualClock): timestamps follow room time (a hold, a pause, late
// packets), and what a forwarded stream leaves out (telephone-event, comfort
// noise) leaves no gap in the sequence.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DtmfEvent } from '../../../src/dtmf/dtmf-event.ts';
import { rms } from '../../helpers/audio-analysis.ts';
import { assertOneStream, decode, framesHeard, makeRoom, Phone, promptHeard, STEP } from '../../helpers/mixer-phones.ts';
import { buildRtp } from '../../helpers/rtp.ts';
import { ToneSource } from '../../helpers/tone-source.ts';

describe('listener RTP streams (RoomMixer, manual clock)', () => {
  it('the talker\'s packets late at the hand-back: the mix continues the stream one frame on, in order', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(20), new Phone(21)];
    const pa = room.join('a', a);
    const pb = room.join('b', b);
    room.run(10);
    // A's next two packets are late: they miss their ticks, a prompt starts, and they come after.
    const late = [a.next()!, a.next()!];
    for (let i = 0; i < 2; i++) {
      pb.pushRtp(b.next()!, performance.now());
      room.mixer.runTick();
    }
    room.mixer.play(new ToneSource(700, 8000, 10, 4000));
    pb.pushRtp(b.next()!, performance.now());
    room.mixer.runTick();
    for (const p of late) pa.pushRtp(p, performance.now());
    room.run(20);
    assert.equal(room.mixer.stats.toMixed, 1);
    assertOneStream(b.heard, 'b');
    // A's frames reach b in order, each once (the first two late ones with the prompt in them).
    const frames = framesHeard(b, a).filter((f) => f >= 0);
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i] > frames[i - 1], frames.join(' '));
    room.mixer.close();
  });

  it('a talker\'s packet late just after the switch to forwarding still follows the last mixed packet', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(24), new Phone(25)];
    const pa = room.join('a', a);
    const pb = room.join('b', b);
    room.run(10);
    room.mixer.play(new ToneSource(700, 8000, 3, 4000));
    room.run(5);
    assert.equal(room.mixer.stats.mode, 'forward');
    const late = a.next()!;
    pb.pushRtp(b.next()!, performance.now());
    room.mixer.runTick();
    pa.pushRtp(late, performance.now());
    room.run(10);
    assertOneStream(b.heard, 'b');
    assert.equal(promptHeard(b, a, 700, 'b'), 3);
    room.mixer.close();
  });

  it('telephone-event and comfort noise are not forwarded; while the talker sends no audio the listener gets silence; the digit is still reported', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(6), new Phone(7)];
    const pa = room.join('a', a);
    const pb = room.join('b', b);
    const digits: DtmfEvent[] = [];
    pa.on('dtmf', (e) => digits.push(e));
    room.run(5);
    assert.equal(room.mixer.stats.mode, 'forward');
    // A presses 5 for 100 ms: event packets instead of audio (RFC 4733 §2.5.1), the end three times.
    a.talking = false;
    const eventTs = a.ts;
    for (let k = 1; k <= 5; k++) {
      const end = k === 5;
      for (let r = 0; r < (end ? 3 : 1); r++) pa.pushRtp(a.dtmf('5', eventTs, end, k * STEP), performance.now());
      a.next();
      room.mixer.runTick();
    }
    // Then a comfort-noise packet (RFC 3389, PT 13) and 200 ms of nothing.
    pa.pushRtp(buildRtp({ payloadType: 13, seq: a.seq++, timestamp: a.ts, ssrc: a.ssrc, payload: Buffer.from([40]) }), performance.now());
    for (let k = 0; k < 10; k++) {
      a.next();
      room.mixer.runTick();
    }
    a.talking = true;
    room.run(20);
    assert.deepEqual(digits.map((d) => d.digit), ['5']);
    assert.ok(b.heard.every((p) => p.payloadType === 0), 'only audio reaches b');
    for (let i = 1; i < b.heard.length; i++) assert.equal((b.heard[i].seq - b.heard[i - 1].seq) & 0xffff, 1, `sequence at ${i}`);
    // A's 15 frames without audio (the digit, the pause): after two frames b
    // gets silence every tick (a jump of those two frames, flagged), then a's
    // audio again, continuing.
    const jumps = b.heard.flatMap((p, i) => (i > 0 && (p.timestamp - b.heard[i - 1].timestamp) >>> 0 !== STEP ? [i] : []));
    assert.equal(jumps.length, 1, b.heard.map((p) => `${p.seq}/${p.timestamp}${p.marker ? "*" : ""}`).join(" "));
    const j = jumps[0];
    assert.equal((b.heard[j].timestamp - b.heard[j - 1].timestamp) >>> 0, 3 * STEP);
    assert.equal(b.heard[j].marker, true);
    assert.deepEqual([pb.encoded, pb.silenceFilled], [1 + 13, 13], 'b got its first packet mixed, then silence for 13 ticks, every other packet forwarded');
    for (let i = j; i < j + 13; i++) assert.equal(rms(decode(b.heard[i].payload)), 0, `silence in packet ${i}`);
    assert.deepEqual(b.heard.at(-1)!.payload, a.sent.get(a.seq - 1), 'then a\'s frames again');
    room.mixer.close();
  });

  it('RTP timestamps jump after a hold gap (mixed, and forwarded), with the marker bit on the first packet after it', () => {
    for (const legs of [3, 2]) {
      const room = makeRoom();
      const phones = [new Phone(8), new Phone(9), new Phone(10)].slice(0, legs);
      const parts = phones.map((ph, i) => room.join(`p${i}`, ph));
      room.run(10);
      const held = phones[1];
      const before = held.heard.length;
      parts[1].sending = false;
      held.talking = false;
      room.run(300); // 6 s on hold: nothing goes to it, its phone sends nothing
      assert.equal(held.heard.length, before, 'nothing is sent to a leg on hold');
      parts[1].sending = true;
      held.talking = true;
      room.run(20);
      const [last, resumed] = [held.heard[before - 1], held.heard[before]];
      assert.equal((resumed.seq - last.seq) & 0xffff, 1, `${legs} legs: sequence continues`);
      assert.equal((resumed.timestamp - last.timestamp) >>> 0, 301 * STEP, `${legs} legs: timestamp jumps by the 6 s on hold`);
      assert.equal(resumed.marker, true, `${legs} legs: marker after the gap`);
      assertOneStream(held.heard.slice(before), `${legs} legs, after the hold`);
      if (legs === 2) assert.equal(room.mixer.stats.mode, 'forward', 'two legs forward again after the hold');
      room.mixer.close();
    }
  });

  it('a talker\'s pause while forwarded: the listener gets silence from the third frame, through a prompt, then the talker again', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(11), new Phone(12)];
    const pb = room.join('b', b);
    room.join('a', a);
    room.run(10);
    a.talking = false;
    room.run(100); // a silent for 2 s (no packets: silence suppression)
    assert.equal(room.mixer.stats.mode, 'forward');
    assert.deepEqual([pb.encoded, pb.silenceFilled], [1 + 98, 98]);
    room.mixer.play(new ToneSource(500, 8000, 5, 4000));
    room.run(10);
    a.talking = true;
    room.run(10);
    assert.equal(room.mixer.stats.mode, 'forward');
    assert.deepEqual(b.heard.at(-1)!.payload, a.sent.get(a.seq - 1), 'b hears a again');
    for (let i = 1; i < b.heard.length; i++) assert.equal((b.heard[i].seq - b.heard[i - 1].seq) & 0xffff, 1, `sequence at ${i}`);
    const jumps = b.heard.flatMap((p, i) => (i > 0 && (p.timestamp - b.heard[i - 1].timestamp) >>> 0 !== STEP ? [i] : []));
    assert.deepEqual(jumps.map((i) => [(b.heard[i].timestamp - b.heard[i - 1].timestamp) >>> 0, b.heard[i].marker]), [[3 * STEP, true]], 'one jump, where the pause began');
    room.mixer.close();
  });
});

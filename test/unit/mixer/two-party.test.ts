// Two-party forwarding on a real RoomMixer driven tick by tick (manualClock):
// when it forwards, what each listener gets through every switch, and when it
// stays mixed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rms, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { assertOneStream, decode, framesHeard, makeRoom, Phone, promptHeard, STEP } from '../../helpers/mixer-phones.ts';
import { ToneSource } from '../../helpers/tone-source.ts';

describe('two-party forwarding (RoomMixer, manual clock)', () => {
  it('forwards a two-party call: the talker\'s payload untouched, on the listener\'s own stream; no encoder runs', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(1), new Phone(2)];
    const pa = room.join('a', a, 0);
    const pb = room.join('b', b, 0);
    room.run(3);
    assert.equal(room.mixer.stats.mode, 'forward');
    const encoded = [pa.encoded, pb.encoded];
    room.run(50);
    assert.deepEqual([pa.encoded, pb.encoded], encoded, 'no frame encoded while forwarding');
    assert.ok(room.mixer.stats.forwarded >= 100, `forwarded ${room.mixer.stats.forwarded}`);
    assert.ok(room.mixer.stats.forwardTicks >= 50);
    assertOneStream(b.heard, 'b');
    assertOneStream(a.heard, 'a');
    // Every frame of A's, once, in order, byte for byte (the first went through the mixer: exact for G.711 below the limiter's knee).
    const heard = framesHeard(b, a);
    assert.ok(!heard.includes(-1), `b hears only a's frames: ${heard.join(' ')}`);
    for (let i = 1; i < heard.length; i++) assert.equal(heard[i], heard[i - 1] + 1, `frame ${i}: ${heard.join(' ')}`);
    assert.equal(heard.at(-1), a.seq - 1, 'b has heard a\'s newest frame');
    // The recorder still gets both legs and their sum every tick.
    const t = room.ticks.at(-1)!;
    const [la, lb] = [t.legs.get('a')!, t.legs.get('b')!];
    for (let i = 0; i < 160; i++) assert.equal(t.mix[i], la[i] + lb[i]);
    assert.equal(room.ticks.length, 53);
    room.mixer.close();
  });

  for (const jitterMinMs of [20, 60]) {
    it(`a prompt and a third leg switch to mixing and back without a gap, a repeat or a skipped frame (jitter buffer ${jitterMinMs} ms)`, () => {
      const room = makeRoom({ jitterMinMs });
      const [a, b, c] = [new Phone(3), new Phone(4), new Phone(5, 0)];
      room.join('a', a);
      room.join('b', b);
      room.run(20);
      assert.equal(room.mixer.stats.mode, 'forward');
      const prompt = new ToneSource(700, 8000, 25, 4000);
      room.mixer.play(prompt);
      room.run(1);
      assert.equal(room.mixer.stats.mode, 'mixed', 'a prompt is mixed in');
      room.run(30);
      assert.equal(room.mixer.stats.mode, 'forward', 'forwarding again after the prompt');
      const pc = room.join('c', c);
      assert.equal(room.mixer.stats.mode, 'mixed', 'a third leg stops forwarding at once');
      room.run(20);
      pc.close();
      room.run(20);
      assert.equal(room.mixer.stats.mode, 'forward');
      assert.deepEqual({ toForward: room.mixer.stats.toForward, toMixed: room.mixer.stats.toMixed }, { toForward: 3, toMixed: 2 });

      for (const [listener, talker, name] of [[b, a, 'b'], [a, b, 'a']] as const) {
        assertOneStream(listener.heard, name);
        assert.equal(promptHeard(listener, talker, 700, name), 25, `${name} hears the whole prompt`);
      }
      room.mixer.close();
    });
  }

  // A jittery network: the talker's packets come in twos or threes. At the switch to
  // mixing the newest frame forwarded may still wait in the talker's jitter buffer
  // although it reached the listener a tick ago; it must not be mixed and sent again.
  for (const [burst, phase] of [[2, 0], [2, 1], [3, 0], [3, 1], [3, 2]]) {
    it(`packets in bursts of ${burst} (phase ${phase}): a prompt to one leg takes over and hands back; the other leg hears each frame once, in order, and none of the prompt`, () => {
      const room = makeRoom();
      const [a, b] = [new Phone(24), new Phone(25)];
      const pa = room.join('a', a);
      const pb = room.join('b', b);
      const held: Buffer[] = [];
      const modes: string[] = [];
      for (let i = 0; i < 90; i++) {
        held.push(a.next()!);
        if (i % burst === phase) for (const pkt of held.splice(0)) pa.pushRtp(pkt, performance.now());
        pb.pushRtp(b.next()!, performance.now());
        if (i === 30) pa.play(new ToneSource(700, 8000, 25, 4000));
        room.mixer.runTick();
        if (i === 32 || i === 60) modes.push(room.mixer.stats.mode);
      }
      assert.deepEqual(modes, ['mixed', 'forward']);
      assert.equal(pa.privateSources.length, 0, 'the prompt played out');
      // Every packet is one of a's frames, exactly, or (before a's first frame, or when a
      // burst came too late for the 20 ms buffer) silence or a concealed frame: never the prompt.
      const heard = framesHeard(b, a);
      b.heard.forEach((p, i) => {
        if (heard[i] < 0) assert.ok(toneAmplitude(decode(p.payload), 8000, 700) * 32768 < 1000, `packet ${i} has the prompt in it`);
      });
      const frames = heard.filter((f) => f >= 0);
      assert.ok(frames.length > 80, heard.join(' '));
      for (let i = 1; i < frames.length; i++) assert.equal(frames[i], frames[i - 1] + 1, `each of a's frames once, in order: ${heard.join(' ')}`);
      assertOneStream(b.heard, 'b');
      room.mixer.close();
    });
  }

  // A network that swaps each pair of the talker's packets. After a hand-back the talker's jitter buffer, emptied of what
  // the listener heard, plays each packet as it comes: when a tick fell between the two of a pair, the first of them
  // (sent second) was missing while the other was there, and played as lost (silence to the listener) instead of
  // waited for; it came a moment later, too late. Now the mix waits a tick for it (TwoPartyForwarder.waitsFor, slips).
  // And a pair split by the hand-back's tick: the first of them (sent second) came when the listener had heard the
  // other forwarded and the mix had taken over: neither forwarded nor mixed, a hole in the listener's stream. It now
  // goes to the listener as it comes, on the number kept for it (RtpOutput.forwardLate).
  for (const [split, promptAt] of [[31, 30], [35, 30], [41, 30], [31, 31]]) {
    const when = split === promptAt ? 'the hand-back\'s tick' : `a tick ${split - promptAt} frames after a hand-back`;
    it(`a reordering network, a pair split by ${when}: the listener hears every frame of the talker once, in order`, () => {
      const room = makeRoom();
      const [a, b] = [new Phone(26), new Phone(27)];
      const pa = room.join('a', a);
      const pb = room.join('b', b);
      let held: Buffer | null = null;
      for (let i = 0; i < 70; i++) {
        const pkt = a.next()!;
        let late: Buffer | null = null;
        // (Arrival times on the talker's clock: a steady network but for the swaps, from the 11th packet on.)
        if (i >= 10 && i % 2 === 0) held = pkt;
        else {
          pa.pushRtp(pkt, i * 20);
          if (i === split) late = held;
          else if (held) pa.pushRtp(held, i * 20);
          held = null;
        }
        pb.pushRtp(b.next()!, i * 20);
        // A prompt too quiet to change a frame by more than G.711's rounding: each frame b gets is a's, or it is not.
        if (i === promptAt) room.mixer.play(new ToneSource(700, 8000, 25, 1));
        room.mixer.runTick();
        if (late) pa.pushRtp(late, i * 20 + 1);
      }
      assert.deepEqual([room.mixer.stats.toMixed, room.mixer.stats.toForward], [1, 2]);
      // In sequence order, as b's jitter buffer plays them.
      b.heard.sort((x, y) => ((x.seq - y.seq + 0x8000) & 0xffff) - 0x8000);
      assertOneStream(b.heard, 'b');
      const first = a.sent.keys().next().value!;
      const off = b.heard.map((p, k) => Math.round(32768 * rms(decode(p.payload).map((v, n) => v - decode(a.sent.get(first + k)!)[n]))));
      assert.ok(off.every((e) => e < 100), `packet k carries a's frame k (off by rms ${off.join(' ')})`);
      assert.equal(b.heard.length, 70);
      room.mixer.close();
    });
  }

  // After a pause (the mixer filled in with silence, so the forwarding maps the talker afresh) the talker's first two
  // packets arrive swapped: the mapping was made on the second, and the first, older than it, was dropped. Its number
  // (not yet come when the second did) is now kept for it.
  for (const pauseTicks of [6, 20]) {
    it(`a talker resumes after ${pauseTicks} silent ticks with its first two packets swapped: the listener gets both, in order, no number missing`, () => {
      const room = makeRoom();
      const [a, b] = [new Phone(28), new Phone(29)];
      const pa = room.join('a', a);
      const pb = room.join('b', b);
      room.run(10);
      a.talking = false;
      room.run(pauseTicks);
      a.talking = true;
      let held: Buffer | null = null;
      for (let i = 0; i < 20; i++) {
        const pkt = a.next()!;
        if (i === 0) held = pkt;
        else {
          pa.pushRtp(pkt, performance.now());
          if (held) pa.pushRtp(held, performance.now());
          held = null;
        }
        pb.pushRtp(b.next()!, performance.now());
        room.mixer.runTick();
      }
      assert.equal(room.mixer.stats.mode, 'forward');
      // In sequence order, as b's jitter buffer plays them.
      b.heard.sort((x, y) => ((x.seq - y.seq + 0x8000) & 0xffff) - 0x8000);
      // No number missing (the listener's stream pauses for the talker's first silent frames: its timestamps jump there).
      for (let i = 1; i < b.heard.length; i++) assert.equal((b.heard[i].seq - b.heard[i - 1].seq) & 0xffff, 1, `b: sequence at packet ${i}`);
      // From the resumption on, a frame per packet: the kept number's packet between the one before and after it.
      const resumed = framesHeard(b, a).indexOf(a.seq - 20);
      assert.ok(resumed > 0, 'b heard the first packet after the pause');
      for (let i = resumed; i < b.heard.length; i++) assert.equal((b.heard[i].timestamp - b.heard[i - 1].timestamp) >>> 0, STEP, `b: timestamp at packet ${i}`);
      // Every frame of a's, once, in order (silence between while it paused).
      const frames = framesHeard(b, a).filter((f) => f >= 0);
      for (let i = 1; i < frames.length; i++) assert.equal(frames[i], frames[i - 1] + 1, `frame ${i}: ${frames.join(' ')}`);
      assert.equal(frames.at(-1), a.seq - 1, "b has heard a's newest frame");
      room.mixer.close();
    });
  }

  it('a forwarded leg hangs up: the other is mixed from the next tick, its stream continuous', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(22), new Phone(23)];
    const pa = room.join('a', a);
    room.join('b', b);
    room.run(10);
    pa.close();
    assert.equal(room.mixer.stats.mode, 'mixed');
    room.run(10);
    assertOneStream(b.heard, 'b');
    assert.equal(b.heard.length, 20);
    room.mixer.close();
  });

  it('stays mixed when the legs differ in codec or role, and with forwarding off; a role set between ticks stops forwarding at once', () => {
    const room = makeRoom({ forwardTwoParty: false });
    room.join('a', new Phone(13));
    room.join('b', new Phone(14));
    room.run(5);
    assert.equal(room.mixer.stats.mode, 'mixed');
    assert.equal(room.mixer.stats.toForward, 0);
    room.mixer.close();

    const mixed = makeRoom();
    mixed.join('a', new Phone(15));
    mixed.mixer.createParticipant('b', { codec: 'PCMA', audioPt: 8, dtmfPt: null, dtmfClock: 8000, sendPt: 8, sendSsrc: 9 }, () => undefined);
    mixed.run(5);
    assert.equal(mixed.mixer.stats.mode, 'mixed', 'PCMU and PCMA are mixed (transcoded)');
    mixed.mixer.close();

    const roles = makeRoom();
    const [a, b] = [new Phone(16), new Phone(17)];
    const pa = roles.join('a', a);
    const pb = roles.join('b', b);
    roles.run(5);
    assert.equal(roles.mixer.stats.mode, 'forward');
    for (const [set, unset] of [
      [() => (pa.muted = true), () => (pa.muted = false)],
      [() => (pb.deaf = true), () => (pb.deaf = false)],
      [() => (pa.hidden = true), () => (pa.hidden = false)],
      [() => (pa.audience = new Set(['b'])), () => (pa.audience = null)],
      [() => (pb.sending = false), () => (pb.sending = true)],
    ]) {
      set();
      const heard = b.heard.length;
      pa.pushRtp(a.next()!, performance.now());
      assert.equal(b.heard.length, heard, `${set.toString()}: the next packet is not forwarded`);
      roles.mixer.runTick();
      roles.run(3);
      assert.equal(roles.mixer.stats.mode, 'mixed', set.toString());
      unset();
      roles.run(3);
      assert.equal(roles.mixer.stats.mode, 'forward', unset.toString());
    }
    // A whisper to one leg (its private source) is mixed for as long as it plays.
    pb.play(new ToneSource(300, 8000, 5, 4000));
    roles.run(2);
    assert.equal(roles.mixer.stats.mode, 'mixed');
    roles.run(6);
    assert.equal(roles.mixer.stats.mode, 'forward');
    assertOneStream(a.heard, 'a');
    // b's stream jumps once, after its hold (three ticks and the hand-back tick), and is continuous otherwise.
    const jumps = b.heard.filter((p, i) => i > 0 && (p.timestamp - b.heard[i - 1].timestamp) >>> 0 !== STEP);
    assert.equal(jumps.length, 1, b.heard.map((p) => `${p.seq}/${p.timestamp}${p.marker ? "*" : ""}`).join(" "));
    assert.equal(jumps[0].marker, true);
    roles.mixer.close();
  });

  it('the recorder hears every frame of both legs through the switches (the frames forwarded before a hand-back included)', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(18), new Phone(19)];
    room.join('a', a);
    room.join('b', b);
    room.run(10);
    room.mixer.play(new ToneSource(700, 8000, 10, 4000));
    room.run(30);
    const legA = room.ticks.map((t) => t.legs.get('a'));
    const firstFrame = [...a.sent.keys()][0];
    legA.forEach((f, i) => {
      assert.ok(f, `tick ${i} has a's frame`);
      assert.deepEqual(f, decode(a.sent.get(firstFrame + i)!), `tick ${i} carries a's frame ${i}`);
    });
    assert.ok(rms(room.ticks[15].mix) > rms(room.ticks[5].mix), 'the prompt is in the recorded mix');
    room.mixer.close();
  });
});

// Two-party forwarding and the listener's RTP stream, on a real RoomMixer driven
// tick by tick (manualClock): each phone's packet for a frame arrives before
// the tick that plays it, as on a network without jitter. Phones say seeded
// noise, so every frame is unique and a repeated or skipped frame shows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DtmfEvent } from '../../../src/dtmf/dtmf-event.ts';
import { G711Decoder, G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { MixTick } from '../../../src/mixer/frames.ts';
import type { MixerParticipant } from '../../../src/mixer/mixer-participant.ts';
import { RoomMixer, type RoomMixerOptions } from '../../../src/mixer/room-mixer.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { rms, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { buildRtp, dtmfPayload, parseRtp, type RtpPacket } from '../../helpers/rtp.ts';
import { ToneSource } from '../../helpers/tone-source.ts';

const log = createLogger({ level: 'silent', pretty: false });
const STEP = 160; // PCMU: 8000 Hz RTP clock, 20 ms frames
const DTMF_PT = 101;

/** A G.711 phone on the far side of a leg: sends one frame per call of next(), keeps what it hears. */
class Phone {
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  readonly sent = new Map<number, Buffer>();
  readonly heard: RtpPacket[] = [];
  /** False: sends nothing (hold, a pause). */
  talking = true;
  seq = 100;
  ts = 10_000;
  private seed: number;
  private readonly enc = new G711Encoder('ulaw');

  constructor(
    seed: number,
    readonly level = 3000,
    readonly pt = 0,
  ) {
    this.seed = seed;
  }

  /** The next 20 ms: a packet of noise (null while not talking; its time still passes). */
  next(): Buffer | null {
    const pcm = new Int16Array(160);
    for (let i = 0; i < pcm.length; i++) {
      this.seed = (this.seed * 1103515245 + 12345) >>> 0;
      pcm[i] = Math.round(((this.seed >>> 8) / 0xffffff - 0.5) * 2 * this.level);
    }
    const out = new Uint8Array(160);
    this.enc.encode(pcm, out);
    const ts = this.ts;
    this.ts = (this.ts + STEP) >>> 0;
    if (!this.talking) return null;
    const payload = Buffer.from(out);
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    this.sent.set(seq, payload);
    return buildRtp({ payloadType: this.pt, seq, timestamp: ts, ssrc: this.ssrc, payload });
  }

  /** One RFC 4733 packet of `digit` on the audio SSRC (it takes a sequence number of the audio stream). */
  dtmf(digit: string, eventTs: number, end: boolean, duration: number): Buffer {
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    return buildRtp({ payloadType: DTMF_PT, seq, timestamp: eventTs, ssrc: this.ssrc, payload: dtmfPayload(digit, end, duration) });
  }

  readonly receive = (b: Buffer): void => {
    const p = parseRtp(b);
    if (p) this.heard.push({ ...p, payload: Buffer.from(p.payload) });
  };
}

interface Room {
  mixer: RoomMixer;
  parts: Map<Phone, MixerParticipant>;
  ticks: MixTick[];
  join(id: string, phone: Phone, sendPt?: number): MixerParticipant;
  /** `n` frames of room time: every talking phone's packet arrives, then the tick runs. */
  run(n: number): void;
}

function makeRoom(o: Partial<RoomMixerOptions> = {}): Room {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 20, jitterMaxMs: 100, manualClock: true, log, ...o });
  const parts = new Map<Phone, MixerParticipant>();
  const ticks: MixTick[] = [];
  mixer.addSink({ writeTick: (t) => ticks.push(t) });
  let ssrc = 0x5000;
  return {
    mixer,
    parts,
    ticks,
    join(id, phone, sendPt = 0) {
      const p = mixer.createParticipant(id, { codec: 'PCMU', audioPt: phone.pt, dtmfPt: DTMF_PT, dtmfClock: 8000, sendPt, sendSsrc: ssrc++ }, phone.receive);
      parts.set(phone, p);
      p.on('close', () => parts.delete(phone));
      return p;
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        for (const [phone, p] of parts) {
          const pkt = phone.next();
          if (pkt) p.pushRtp(pkt, performance.now());
        }
        mixer.runTick();
      }
    },
  };
}

/** Every packet follows the one before it: sequence +1, timestamp +1 frame, no marker after the first. */
function assertOneStream(heard: RtpPacket[], what: string): void {
  assert.ok(heard.length > 0, `${what}: heard nothing`);
  assert.equal(new Set(heard.map((p) => p.ssrc)).size, 1, `${what}: one SSRC`);
  for (let i = 1; i < heard.length; i++) {
    const [a, b] = [heard[i - 1], heard[i]];
    assert.equal((b.seq - a.seq) & 0xffff, 1, `${what}: sequence at packet ${i} (${a.seq} → ${b.seq})`);
    assert.equal((b.timestamp - a.timestamp) >>> 0, STEP, `${what}: timestamp at packet ${i} (${a.timestamp} → ${b.timestamp})`);
    assert.equal(b.marker, false, `${what}: marker at packet ${i}`);
  }
}

function decode(payload: Uint8Array): Int16Array {
  const out = new Int16Array(160);
  new G711Decoder('ulaw').decode(payload, out);
  return out;
}

/** The talker's frame sequence numbers that the listener's packets carry, in order (-1: none matches exactly). */
function framesHeard(listener: Phone, talker: Phone): number[] {
  const bySeq = new Map<string, number>();
  for (const [seq, payload] of talker.sent) bySeq.set(payload.toString('hex'), seq);
  return listener.heard.map((p) => bySeq.get(p.payload.toString('hex')) ?? -1);
}

/**
 * Checks that each packet the listener got is the talker's next frame (exactly),
 * or that frame plus the prompt at `promptHz`: no frame twice, none left out.
 * (With a deep jitter buffer the first packet was mixed before the talker's
 * frames played: it may be neither.) Returns how many packets had the prompt.
 */
function promptHeard(listener: Phone, talker: Phone, promptHz: number, name: string): number {
  const frames = framesHeard(listener, talker);
  const start = frames.findIndex((f) => f >= 0);
  assert.ok(start >= 0 && start <= 1, `${name}: ${frames.join(' ')}`);
  const first = frames[start];
  assert.equal(first, talker.sent.keys().next().value, `${name} hears the talker from its first frame`);
  let promptFrames = 0;
  listener.heard.slice(start).forEach((p, k) => {
    const expect = first + k;
    if (frames[start + k] === expect) return;
    const residual = decode(p.payload).map((v, n) => v - decode(talker.sent.get(expect)!)[n]);
    assert.ok(toneAmplitude(residual, 8000, promptHz) * 32768 > 3500, `${name}: packet ${start + k} is neither frame ${expect} nor it plus the prompt (${frames.join(' ')})`);
    promptFrames++;
  });
  return promptFrames;
}

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

// A room mixed at 8 kHz (media.mixer.sampleRate 8000), end to end through the
// real RoomMixer on its real 20 ms clock: G.711 legs go through without any
// resampling, a G.722 leg is resampled 16 ↔ 8 kHz, an opus leg is coded at
// 8 kHz by libopus itself, a prompt and a recorder see 160-sample frames, and
// in-band DTMF is detected at 8 kHz. Audio is judged as audio: tones in, each
// listener's decoded stream measured.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DtmfEvent } from '../../../src/dtmf/dtmf-event.ts';
import type { AudioDecoder, AudioEncoder, CodecName } from '../../../src/mixer/codecs/audio-codec.ts';
import { G711Decoder, G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import { G722Decoder, G722Encoder } from '../../../src/mixer/codecs/g722.ts';
import { OpusDecoder, OpusEncoder } from '../../../src/mixer/codecs/opus-codec.ts';
import type { MixTick, TickSink } from '../../../src/mixer/frames.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { dtmfTone, tone, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { parseRtp, buildRtp } from '../../helpers/rtp.ts';
import { ToneSource } from '../../helpers/tone-source.ts';

const log = createLogger({ level: 'silent', pretty: false });
const LEVEL = 4000; // five sources at this level stay below the limiter's knee
const PT: Record<CodecName, number> = { PCMU: 0, PCMA: 8, G722: 9, opus: 111 };

/** A phone on the other side of one leg: what it sends (at its codec's rate) and what it hears. */
class Phone {
  readonly rate: number;
  readonly heard: Int16Array[] = [];
  private readonly enc: AudioEncoder;
  private readonly dec: AudioDecoder;
  private readonly payload = new Uint8Array(1500);
  private seq = 0;
  private sent = 0;

  constructor(
    readonly codec: CodecName,
    /** Samples to say for frame k (at this phone's rate), or null for silence. */
    private readonly say: (rate: number, k: number) => Int16Array | null,
  ) {
    if (codec === 'opus') {
      this.enc = new OpusEncoder(48000);
      this.dec = new OpusDecoder(48000);
    } else if (codec === 'G722') {
      this.enc = new G722Encoder();
      this.dec = new G722Decoder();
    } else {
      this.enc = new G711Encoder(codec === 'PCMU' ? 'ulaw' : 'alaw');
      this.dec = new G711Decoder(codec === 'PCMU' ? 'ulaw' : 'alaw');
    }
    this.rate = this.enc.rate;
  }

  /** The next RTP packet this phone sends (ptime 20). */
  nextPacket(): Buffer {
    const n = this.rate / 50;
    const k = this.sent++;
    const pcm = this.say(this.rate, k) ?? new Int16Array(n);
    const len = this.enc.encode(pcm, this.payload);
    const step = this.codec === 'opus' ? 960 : 160;
    return buildRtp({ payloadType: PT[this.codec], seq: this.seq++, timestamp: k * step, ssrc: 0x1000 + PT[this.codec], payload: Buffer.from(this.payload.subarray(0, len)) });
  }

  readonly receive = (packet: Buffer): void => {
    const p = parseRtp(packet);
    if (!p) return;
    const out = new Int16Array(this.rate / 50);
    this.dec.decode(p.payload, out);
    this.heard.push(out);
  };

  /** The last `frames` frames heard, joined. */
  lastHeard(frames: number): Int16Array {
    const tail = this.heard.slice(-frames);
    const out = new Int16Array(tail.length * (this.rate / 50));
    tail.forEach((f, i) => out.set(f, i * f.length));
    return out;
  }

  close(): void {
    this.enc.close();
    this.dec.close();
  }
}

/** Median of the tone's amplitude over 100 ms windows (scaled to 16-bit), robust to one late tick. */
function level(pcm: Int16Array, rate: number, hz: number): number {
  const n = rate / 10;
  const a: number[] = [];
  for (let s = 0; s + n <= pcm.length; s += n) a.push(32768 * toneAmplitude(pcm, rate, hz, s, n));
  a.sort((x, y) => x - y);
  return a[a.length >> 1];
}

const db = (a: number, b: number): number => 20 * Math.log10(a / b);

const sine = (hz: number, amplitude = LEVEL) => (rate: number, k: number): Int16Array => tone(hz, rate, rate / 50, amplitude, k * (rate / 50));

interface Room {
  mixer: RoomMixer;
  /** A phone dials in: a participant for it, its first packet. */
  join(id: string, phone: Phone): void;
  /** A phone hangs up (it keeps what it heard). */
  leave(id: string): void;
}

let ssrc = 0x2000;

/**
 * Runs `ticks` ticks of a room (8 kHz unless told otherwise): each phone sends
 * one packet per tick of the room's own clock. `onTick` runs after each tick,
 * outside it (a join or a leave between ticks, as from the media plane).
 */
async function runRoom(
  phones: Map<string, Phone>,
  ticks: number,
  o: { sampleRate?: number; autoNarrowband?: boolean; setup?: (room: Room) => void; onTick?: (index: number, room: Room) => void } = {},
): Promise<{ mixer: RoomMixer; recorded: MixTick[] }> {
  const mixer = new RoomMixer({ sampleRate: o.sampleRate ?? 8000, autoNarrowband: o.autoNarrowband, jitterMinMs: 20, jitterMaxMs: 100, log });
  const recorded: MixTick[] = [];
  const everyone = new Set<Phone>();
  const live = new Map<string, Phone>();
  const room: Room = {
    mixer,
    join(id, phone) {
      const pt = PT[phone.codec];
      mixer.createParticipant(id, { codec: phone.codec, audioPt: pt, dtmfPt: null, dtmfClock: 8000, sendPt: pt, sendSsrc: ssrc++ }, phone.receive);
      everyone.add(phone);
      live.set(id, phone);
      mixer.participant(id)!.pushRtp(phone.nextPacket(), recorded.length * 20);
    },
    leave(id) {
      mixer.participant(id)?.close();
      live.delete(id);
    },
  };
  for (const [id, phone] of phones) room.join(id, phone);
  o.setup?.(room);
  await new Promise<void>((resolve) => {
    // Packets arrive paced by the room's clock (one per leg per tick), so a
    // loaded machine slows the test down instead of starving the jitter buffers.
    const sink: TickSink = {
      writeTick(tick: MixTick): void {
        recorded.push(tick);
        if (recorded.length >= ticks) {
          mixer.removeSink(sink);
          resolve();
          return;
        }
        for (const [id, phone] of live) mixer.participant(id)!.pushRtp(phone.nextPacket(), tick.timeMs + 20);
        const index = recorded.length - 1;
        if (o.onTick) setImmediate(() => o.onTick!(index, room));
      },
    };
    mixer.addSink(sink);
  });
  mixer.close();
  for (const p of everyone) p.close();
  return { mixer, recorded };
}

describe('a room mixed at 8 kHz', () => {
  it('mixes PCMU, PCMA, G.722 and opus legs and a prompt, each heard flat, no images or aliases; recorders get 8 kHz frames', async () => {
    const phones = new Map<string, Phone>([
      ['a', new Phone('PCMU', sine(2900))],
      ['b', new Phone('PCMA', sine(600))],
      // A wideband phone: 1.5 kHz in band, and 6 kHz that an 8 kHz room must drop, not fold to 2 kHz.
      ['c', new Phone('G722', (rate, k) => {
        const x = sine(1500)(rate, k);
        const y = sine(6000)(rate, k);
        return x.map((v, i) => v + y[i]);
      })],
      ['d', new Phone('opus', sine(800))],
    ]);
    const { recorded } = await runRoom(phones, 70, { setup: ({ mixer }) => mixer.play(new ToneSource(400, 8000, Infinity, LEVEL)) });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => phones.get(id)!);

    // The recorder's view: every frame at the room rate.
    for (const t of recorded) {
      assert.equal(t.mix.length, 160);
      for (const f of t.legs.values()) if (f) assert.equal(f.length, 160);
    }
    const mix = Int16Array.from(recorded.slice(-50).flatMap((t) => Array.from(t.mix)));
    // C's input as the room has it (decoded, 16 → 8 kHz): the 1.5 kHz tone, and its
    // 6 kHz tone gone rather than folded to 2 kHz. Measured here, before any G.711
    // listener adds intermodulation products of the other tones at 2 kHz.
    const fromC = Int16Array.from(recorded.slice(-50).flatMap((t) => Array.from(t.legs.get('c') ?? new Int16Array(160))));
    assert.ok(Math.abs(db(level(fromC, 8000, 1500), LEVEL)) <= 0.5, `C's 1.5 kHz in the room: ${db(level(fromC, 8000, 1500), LEVEL).toFixed(2)} dB`);
    assert.ok(db(level(fromC, 8000, 2000), LEVEL) < -65, `C's 6 kHz folded to 2 kHz: ${db(level(fromC, 8000, 2000), LEVEL).toFixed(1)} dB`);
    for (const hz of [2900, 600, 1500, 800, 400]) assert.ok(level(mix, 8000, hz) > LEVEL / 2, `mix has ${hz} Hz (${level(mix, 8000, hz).toFixed(0)})`);

    // B (PCMA) hears A, C, D and the prompt, not itself; G.711 in and out without resampling is flat.
    const atB = b.lastHeard(50);
    assert.ok(Math.abs(db(level(atB, 8000, 2900), LEVEL)) <= 0.5, `A's 2.9 kHz at B: ${db(level(atB, 8000, 2900), LEVEL).toFixed(2)} dB`);
    assert.ok(Math.abs(db(level(atB, 8000, 400), LEVEL)) <= 0.5, `prompt at B: ${db(level(atB, 8000, 400), LEVEL).toFixed(2)} dB`);
    assert.ok(Math.abs(db(level(atB, 8000, 1500), LEVEL)) <= 1, `C's 1.5 kHz at B: ${db(level(atB, 8000, 1500), LEVEL).toFixed(2)} dB`);
    assert.ok(level(atB, 8000, 800) > LEVEL / 2, `D's 800 Hz at B: ${level(atB, 8000, 800).toFixed(0)}`);
    assert.ok(db(level(atB, 8000, 600), LEVEL) < -40, `B hears itself: ${db(level(atB, 8000, 600), LEVEL).toFixed(1)} dB`);

    // C (G.722, 16 kHz) hears A's 2.9 kHz upsampled, without its image at 8 − 2.9 = 5.1 kHz.
    const atC = c.lastHeard(50);
    assert.ok(Math.abs(db(level(atC, 16000, 2900), LEVEL)) <= 1, `A's 2.9 kHz at C: ${db(level(atC, 16000, 2900), LEVEL).toFixed(2)} dB`);
    assert.ok(db(level(atC, 16000, 5100), LEVEL) < -50, `image of 2.9 kHz at 5.1 kHz: ${db(level(atC, 16000, 5100), LEVEL).toFixed(1)} dB`);

    // D (opus, coded at 8 kHz by libopus) and A hear the others.
    const atD = d.lastHeard(50);
    assert.ok(level(atD, 48000, 2900) > LEVEL / 2, `A's 2.9 kHz at D: ${level(atD, 48000, 2900).toFixed(0)}`);
    const atA = a.lastHeard(50);
    assert.ok(Math.abs(db(level(atA, 8000, 600), LEVEL)) <= 0.5, `B's 600 Hz at A: ${db(level(atA, 8000, 600), LEVEL).toFixed(2)} dB`);
  });

  it('detects in-band DTMF at 8 kHz', async () => {
    const digits: DtmfEvent[] = [];
    const phones = new Map<string, Phone>([
      ['a', new Phone('PCMU', (rate, k) => (k >= 5 && k < 15 ? dtmfTone('7', rate, rate / 50, 6000, k * (rate / 50)) : null))],
      ['b', new Phone('PCMU', () => null)],
    ]);
    await runRoom(phones, 30, { setup: ({ mixer }) => mixer.participant('a')!.on('dtmf', (e) => digits.push(e)) });
    assert.deepEqual(digits.map((e) => [e.digit, e.source]), [['7', 'inband']]);
  });

  it('with autoNarrowband, mixes at 8 kHz while all legs are G.711, at 16 kHz while a G.722 leg is in; prompts and recorders keep their rate', async () => {
    const a = new Phone('PCMU', sine(2900));
    const b = new Phone('PCMU', sine(600));
    const c = new Phone('G722', sine(1500));
    const switches: { rate: number; tick: number }[] = [];
    let recordedSoFar = 0;
    const { recorded } = await runRoom(new Map([['a', a], ['b', b]]), 135, {
      sampleRate: 16000,
      autoNarrowband: true,
      setup: ({ mixer }) => {
        assert.equal(mixer.sampleRate, 8000, 'two G.711 legs: narrowband');
        mixer.on('rate', (rate) => switches.push({ rate, tick: recordedSoFar }));
        // A prompt made while the room was narrowband says so, like a Player: 8 kHz frames, whatever comes next.
        mixer.play(Object.assign(new ToneSource(400, 8000, Infinity, LEVEL), { sampleRate: 8000 }));
      },
      onTick: (i, room) => {
        recordedSoFar = i + 1;
        if (i === 40) room.join('c', c);
        if (i === 90) room.leave('c');
      },
    });
    assert.deepEqual(switches.map((s) => s.rate), [16000, 8000], 'wideband while C is in, narrowband after');
    const [up, down] = switches.map((s) => s.tick);
    assert.ok(up >= 41 && up <= 44 && down >= 91 && down <= 94, `switched at ticks ${up} and ${down}`);

    // The recorder was added at 8 kHz and stays there: 160-sample frames all along,
    // the prompt and A at their own frequencies (not shifted by the switches).
    for (const t of recorded) assert.equal(t.mix.length, 160, `tick at ${t.timeMs} ms`);
    const phase = (from: number, to: number): [number, number] => [from, to];
    const phases = { narrow: phase(10, up - 1), wide: phase(up + 5, down - 1), narrowAgain: phase(down + 5, 134) };
    for (const [name, [from, to]] of Object.entries(phases)) {
      const mix = Int16Array.from(recorded.slice(from, to).flatMap((t) => Array.from(t.mix)));
      for (const hz of [400, 2900, 600]) {
        const d = db(level(mix, 8000, hz), LEVEL);
        assert.ok(Math.abs(d) <= 0.5, `recorder, ${name} phase: ${hz} Hz at ${d.toFixed(2)} dB`);
      }
      // B hears A and the prompt flat in every phase (G.711 both ways; resampled 8 ↔ 16 kHz while wide).
      const atB = Int16Array.from(b.heard.slice(from, to).flatMap((f) => Array.from(f)));
      for (const hz of [2900, 400]) {
        const d = db(level(atB, 8000, hz), LEVEL);
        assert.ok(Math.abs(d) <= 0.5, `B, ${name} phase: ${hz} Hz at ${d.toFixed(2)} dB`);
      }
      const fromC = db(level(atB, 8000, 1500), LEVEL);
      if (name === 'wide') assert.ok(Math.abs(fromC) <= 1, `B hears C's 1.5 kHz at ${fromC.toFixed(2)} dB`);
      else assert.ok(fromC < -40, `B hears C's 1.5 kHz in the ${name} phase at ${fromC.toFixed(1)} dB`);
    }
    // C, a 16 kHz leg, hears A and the 8 kHz prompt at their frequencies.
    const atC = c.lastHeard(40);
    for (const hz of [2900, 400]) assert.ok(Math.abs(db(level(atC, 16000, hz), LEVEL)) <= 1, `C: ${hz} Hz at ${db(level(atC, 16000, hz), LEVEL).toFixed(2)} dB`);
  });
});

// What the legs' jitter buffers still hold when a leg leaves or the room ends goes
// to the recorders (leg-tails.ts, RoomMixer.playOut): a live leg's last 20–100 ms
// were lost before (the recording stopped 40–100 ms short of what was said). Two
// PCMU legs on a manual clock, a 60 ms jitter target (three frames held); each
// leg's last packet is quieter than the rest, so the recording shows whether the
// very last one got in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { G711Decoder, G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { MixTick } from '../../../src/mixer/frames.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import type { MixerParticipant } from '../../../src/mixer/mixer-participant.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { tone } from '../../helpers/audio-analysis.ts';
import { buildRtp } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
const PACKETS = 50;
const LOUD = 8000;
const LAST = 2000;

const rms = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((n, x) => n + x * x, 0) / a.length);

interface Room {
  mixer: RoomMixer;
  a: MixerParticipant;
  b: MixerParticipant;
  ticks: { timeMs: number; mix: Int16Array; legs: Map<string, Int16Array | null> }[];
  /** Packets sent to each leg, as they went. */
  sent: { a: Buffer[]; b: Buffer[] };
}

function room(forward: boolean): Room {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 60, jitterMaxMs: 100, manualClock: true, forwardTwoParty: forward, log });
  const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: null, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };
  const sent = { a: [] as Buffer[], b: [] as Buffer[] };
  const a = mixer.createParticipant('a', media, (p) => void sent.a.push(Buffer.from(p)));
  const b = mixer.createParticipant('b', { ...media, sendSsrc: 2 }, (p) => void sent.b.push(Buffer.from(p)));
  const ticks: Room['ticks'] = [];
  // A copy of each tick (the mixer may reuse its frames).
  const copy = (t: MixTick): void => {
    const legs = new Map<string, Int16Array | null>();
    for (const [id, f] of t.legs) legs.set(id, f ? Int16Array.from(f) : null);
    ticks.push({ timeMs: t.timeMs, mix: Int16Array.from(t.mix), legs });
  };
  mixer.addSink({ writeTick: copy });
  return { mixer, a, b, ticks, sent };
}

/** `PACKETS` packets from each leg, one per tick: `a` a 440 Hz tone, `b` 1 kHz; each stream's last packet at LAST, the rest at LOUD. */
function talk(r: Room): void {
  const enc = new G711Encoder('ulaw');
  const out = new Uint8Array(160);
  for (let i = 0; i < PACKETS; i++) {
    const level = i === PACKETS - 1 ? LAST : LOUD;
    for (const [p, hz, ssrc] of [
      [r.a, 440, 7],
      [r.b, 1000, 8],
    ] as const) {
      enc.encode(tone(hz, 8000, 160, level, i * 160), out);
      p.pushRtp(buildRtp({ payloadType: 0, seq: i, timestamp: i * 160, ssrc, payload: Buffer.from(out) }), i * 20);
    }
    r.mixer.runTick();
  }
}

/** The frames a leg's stem got, in order. */
function stem(r: Room, id: string): Int16Array[] {
  return r.ticks.map((t) => t.legs.get(id)).filter((f): f is Int16Array => !!f);
}

describe('the last of the legs goes to the recorders', () => {
  it('a room ending plays out every leg (not only record-only ones) to the recorders, and sends nothing', () => {
    const r = room(true);
    talk(r);
    assert.ok(r.a.buffered >= 2, `a's buffer holds ${r.a.buffered} packets at the end`);
    const sentBefore = r.sent.a.length + r.sent.b.length;
    const ran = r.mixer.playOut();
    assert.ok(ran >= 2, `${ran} ticks played out`);
    assert.equal(r.sent.a.length + r.sent.b.length, sentBefore, 'no leg is sent anything by the play-out');
    for (const id of ['a', 'b']) {
      const frames = stem(r, id);
      assert.equal(frames.length, PACKETS, `${id}: every packet recorded`);
      assert.ok(Math.abs(rms(frames.at(-1)!) - LAST / Math.SQRT2) < 150, `${id}: its last packet is the last frame (rms ${rms(frames.at(-1)!).toFixed(0)})`);
    }
    assert.equal(r.a.buffered + r.b.buffered, 0);
    r.mixer.close();
  });

  it('a leg that leaves a mixed room: its last frames reach its stem, the mix and the other leg', () => {
    const r = room(false);
    talk(r);
    const held = r.a.buffered;
    assert.ok(held >= 2);
    const before = r.ticks.length;
    const sentB = r.sent.b.length;
    r.a.close();
    for (let i = 0; i < held + 2; i++) r.mixer.runTick();
    const after = r.ticks.slice(before);
    const aFrames = after.map((t) => t.legs.get('a')).filter((f): f is Int16Array => !!f);
    assert.equal(aFrames.length, held, 'one tail frame per tick, then the leg is gone from the ticks');
    assert.equal(stem(r, 'a').length, PACKETS, 'every packet of the leg that left is in its stem');
    assert.ok(Math.abs(rms(aFrames.at(-1)!) - LAST / Math.SQRT2) < 150);
    assert.ok(rms(after[0]!.mix) > 1000, 'the tail is in the mix');
    // b heard a's tail: a never got forwarded to it.
    const dec = new G711Decoder('ulaw');
    const pcm = new Int16Array(160);
    const heard = r.sent.b.slice(sentB, sentB + held).map((p) => {
      dec.decode(p.subarray(12), pcm);
      return rms(pcm);
    });
    assert.ok(heard.length === held && heard.every((x) => x > 1000), `b heard a's last frames (rms ${heard.map((x) => x.toFixed(0)).join(', ')})`);
    r.mixer.close();
  });

  it('a leg that leaves a forwarded call: its tail reaches the recorders only (the other leg heard it as it came)', () => {
    const r = room(true);
    talk(r);
    assert.equal(r.mixer.stats.mode, 'forward');
    const held = r.a.buffered;
    assert.ok(held >= 2);
    const sentB = r.sent.b.length;
    const forwardedToB = r.b.forwarded;
    r.a.close();
    for (let i = 0; i < held + 2; i++) r.mixer.runTick();
    assert.equal(stem(r, 'a').length, PACKETS, 'every packet of the leg that left is in its stem');
    assert.equal(forwardedToB, PACKETS, 'b got each of a packets as it came');
    const dec = new G711Decoder('ulaw');
    const pcm = new Int16Array(160);
    const later = r.sent.b.slice(sentB).map((p) => {
      dec.decode(p.subarray(12), pcm);
      return rms(pcm);
    });
    assert.ok(later.length > 0 && later.every((x) => x < 50), `b hears silence, not a's tail again (rms ${later.map((x) => x.toFixed(0)).join(', ')})`);
    r.mixer.close();
  });

  it('a leg that leaves while a new one takes its id: the stem is the new leg\'s, the tail still in the mix', () => {
    const r = room(false);
    talk(r);
    const held = r.a.buffered;
    assert.ok(held >= 2);
    r.a.close();
    const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: null, dtmfClock: 8000, sendPt: 0, sendSsrc: 3 };
    r.mixer.createParticipant('a', media, () => undefined);
    const before = r.ticks.length;
    r.mixer.runTick();
    const t = r.ticks[before]!;
    assert.equal(t.legs.get('a'), null, "the new leg's frame (it sent nothing yet), not the old one's tail");
    assert.ok(rms(t.mix) > 1000, 'the tail is in the mix');
    r.mixer.close();
  });

  it('a room without recorders keeps no tail', () => {
    const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 60, jitterMaxMs: 100, manualClock: true, log });
    const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: null, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };
    const a = mixer.createParticipant('a', media, () => undefined);
    const enc = new G711Encoder('ulaw');
    const out = new Uint8Array(160);
    for (let i = 0; i < 5; i++) {
      enc.encode(tone(440, 8000, 160, LOUD, i * 160), out);
      a.pushRtp(buildRtp({ payloadType: 0, seq: i, timestamp: i * 160, ssrc: 7, payload: Buffer.from(out) }), i * 20);
    }
    a.close();
    assert.equal(a.tail.length, 0);
    assert.equal(mixer.playOut(), 0);
    mixer.close();
  });
});

// A leg whose stream changes SSRC mid-call (an SBC re-anchoring the media, a transfer
// behind it): the new stream's numbers continue the old one's (stream-splice.ts), so
// what the jitter buffer held of the old stream still plays, and a record-only leg
// (a SIPREC stream, 1 s deep) records every frame of both streams in order, with no
// second of silence at the change. Checked as audio: the old stream a 1000 Hz tone, the
// new one 600 Hz, each frame's frequency read from the leg's frames of the room's ticks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { MixerParticipant } from '../../../src/mixer/mixer-participant.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { StreamSplice } from '../../../src/mixer/stream-splice.ts';
import { newRtpView } from '../../../src/mixer/rtp.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { purity, tone } from '../../helpers/audio-analysis.ts';
import { buildRtp } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: 101, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };

/**
 * 50 packets of 1000 Hz (SSRC 0xa, seq from 100), then 50 of 600 Hz (SSRC 0xb, seq from 40000, another timestamp base;
 * `codecChange`: the same SSRC going on, in PCMA after a re-offer), one per tick; then the rest plays out. The leg's frames, by tick.
 */
function run(recordOnlyMs: number | undefined, codecChange = false): Int16Array[] {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 40, jitterMaxMs: 100, manualClock: true, log });
  const leg: MixerParticipant = mixer.createParticipant('s', media, () => undefined, 'auto', recordOnlyMs);
  mixer.createParticipant('other', { ...media, sendSsrc: 2 }, () => undefined);
  leg.sending = false;
  const frames: Int16Array[] = [];
  mixer.addSink({ writeTick: (t) => void frames.push(Int16Array.from(t.legs.get('s') ?? new Int16Array(160))) });
  const ulaw = new G711Encoder('ulaw');
  const alaw = new G711Encoder('alaw');
  const out = new Uint8Array(160);
  for (let i = 0; i < 100; i++) {
    const second = i >= 50;
    const k = second ? i - 50 : i;
    if (codecChange && i === 50) leg.setMedia({ ...media, codec: 'PCMA', audioPt: 8, sendPt: 8 });
    (codecChange && second ? alaw : ulaw).encode(tone(second ? 600 : 1000, 8000, 160, 8000, i * 160), out);
    const header = second && !codecChange ? { ssrc: 0xb, seq: 40000 + k, timestamp: 1_000_000 + k * 160 } : { ssrc: 0xa, seq: 100 + i, timestamp: 5000 + i * 160 };
    leg.pushRtp(buildRtp({ payloadType: codecChange && second ? 8 : 0, ...header, payload: Buffer.from(out) }), i * 20);
    mixer.runTick();
  }
  mixer.playOut();
  mixer.close();
  return frames;
}

/** Each frame as '1' (1000 Hz), '6' (600 Hz) or '.' (neither: silence, concealment). */
function read(frames: Int16Array[]): string {
  return frames.map((f) => (purity(f, 8000, 1000) > 0.9 ? '1' : purity(f, 8000, 600) > 0.9 ? '6' : '.')).join('');
}

describe('a change of SSRC mid-stream', () => {
  it('a record-only leg (SIPREC, 1 s deep) records all 50 frames of each stream, in order, with no gap between', () => {
    const heard = read(run(1000)).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(50) + '6'.repeat(50));
  });

  it('a live leg loses nothing at the change either (what its buffer held still plays)', () => {
    const heard = read(run(undefined)).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(50) + '6'.repeat(50));
  });
});

describe('a codec change by re-offer mid-stream', () => {
  it('what the buffer held of the old codec plays first: a record-only leg records all 100 frames in order', () => {
    const heard = read(run(1000, true)).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(50) + '6'.repeat(50));
  });

  it('a live leg too', () => {
    const heard = read(run(undefined, true)).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(50) + '6'.repeat(50));
  });
});

describe('StreamSplice', () => {
  const view = (ssrc: number, seq: number, timestamp: number, payloadType = 0) => Object.assign(newRtpView(), { ssrc, seq, timestamp, payloadType });
  /** An audio packet aligned and then given to the jitter buffer with its aligned numbers (as a 20 ms stream's is). */
  const audio = (s: StreamSplice, v: ReturnType<typeof view>, ms: number) => {
    s.align(v, ms);
    s.took(v.seq, v.timestamp, ms);
  };

  it('keeps the first stream as it is; a new SSRC continues the newest packet by one number and by the time between them in timestamp', () => {
    const s = new StreamSplice(8000);
    const a = view(1, 65535, 4294967000);
    audio(s, a, 0);
    assert.deepEqual([a.seq, a.timestamp], [65535, 4294967000]);
    const b = view(2, 7, 123);
    audio(s, b, 200); // 200 ms later: 10 frames of 160
    assert.deepEqual([b.seq, b.timestamp], [0, (4294967000 + 1600) >>> 0]);
    const c = view(2, 8, 283);
    audio(s, c, 220);
    assert.deepEqual([c.seq, c.timestamp], [1, (4294967000 + 1760) >>> 0]);
    assert.equal(s.changes, 1);
  });

  it("moves the stream's telephone-event packets alike, and leaves another SSRC's events and numbers alone", () => {
    const s = new StreamSplice(8000);
    audio(s, view(1, 10, 1000), 0);
    audio(s, view(2, 500, 90000), 20);
    const ev = view(2, 501, 90160, 101);
    s.align(ev, 40, false);
    assert.deepEqual([ev.seq, ev.timestamp], [12, 1320]);
    const foreign = view(3, 9, 9, 101);
    s.align(foreign, 60, false);
    assert.deepEqual([foreign.seq, foreign.timestamp], [9, 9]);
    const next = view(2, 502, 90320);
    audio(s, next, 60);
    assert.deepEqual([next.seq, next.timestamp], [13, 1480], 'the foreign events changed nothing');
    assert.equal(s.changes, 1);
  });
});

/**
 * A 30 ms G.711 stream (cut into 20 ms frames by packet-reframer.ts, numbered on a grid of its
 * own, 1.5 frames per packet): 30 packets of 1000 Hz (SSRC 0xa, seq from 100), then 30 of 600 Hz,
 * either from SSRC 0xb (seq from 40000, another timestamp base) or from 0xa going on with its
 * timestamp an hour ahead. A packet every 30 ms, a tick every 20 ms; the leg's frames, by tick.
 */
function run30(change: 'ssrc' | 'timestamp'): Int16Array[] {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 40, jitterMaxMs: 100, manualClock: true, log });
  const leg: MixerParticipant = mixer.createParticipant('s', media, () => undefined, 'auto');
  mixer.createParticipant('other', { ...media, sendSsrc: 2 }, () => undefined);
  leg.sending = false;
  const frames: Int16Array[] = [];
  mixer.addSink({ writeTick: (t) => void frames.push(Int16Array.from(t.legs.get('s') ?? new Int16Array(160))) });
  const ulaw = new G711Encoder('ulaw');
  const out = new Uint8Array(240);
  for (let ms = 0, i = 0; i < 60 || ms % 20 !== 0; ms += 10) {
    if (ms % 30 === 0 && i < 60) {
      const second = i >= 30;
      const k = second ? i - 30 : i;
      ulaw.encode(tone(second ? 600 : 1000, 8000, 240, 8000, i * 240), out);
      const header =
        !second ? { ssrc: 0xa, seq: 100 + i, timestamp: 5000 + i * 240 }
        : change === 'ssrc' ? { ssrc: 0xb, seq: 40000 + k, timestamp: 1_000_000 + k * 240 }
        : { ssrc: 0xa, seq: 100 + i, timestamp: 5000 + i * 240 + 8000 * 3600 };
      leg.pushRtp(buildRtp({ payloadType: 0, ...header, payload: Buffer.from(out) }), ms);
      i++;
    }
    if (ms % 20 === 0) mixer.runTick();
  }
  mixer.playOut();
  mixer.close();
  return frames;
}

describe('a 30 ms stream (reframed into 20 ms frames) that changes mid-call', () => {
  it('a change of SSRC loses no frame: the new stream’s frames go on from the old one’s numbers', () => {
    const heard = read(run30('ssrc')).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(45) + '6'.repeat(45));
  });

  it('a timestamp jump on the same SSRC (a new grid) loses no frame either', () => {
    const heard = read(run30('timestamp')).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(45) + '6'.repeat(45));
  });
});

/**
 * G.711 streams of different packet lengths one after another on a live leg, each from an SSRC,
 * sequence number and timestamp base of its own: `streams` as [ptime ms, packets, tone Hz]. Packets
 * at their own pace, a tick every 20 ms; the leg's frames, by tick. A 20 ms stream bypasses the
 * reframer, a 30 ms one is cut onto its grid (1.5 frames a packet): its numbers are the grid's.
 */
function runStreams(streams: [number, number, number][]): Int16Array[] {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 40, jitterMaxMs: 100, manualClock: true, log });
  const leg: MixerParticipant = mixer.createParticipant('s', media, () => undefined, 'auto');
  mixer.createParticipant('other', { ...media, sendSsrc: 2 }, () => undefined);
  leg.sending = false;
  const frames: Int16Array[] = [];
  mixer.addSink({ writeTick: (t) => void frames.push(Int16Array.from(t.legs.get('s') ?? new Int16Array(160))) });
  const ulaw = new G711Encoder('ulaw');
  const sends: [number, Buffer][] = [];
  let at = 0;
  streams.forEach(([ptime, n, hz], s) => {
    const bytes = ptime * 8;
    for (let k = 0; k < n; k++) {
      const out = new Uint8Array(bytes);
      ulaw.encode(tone(hz, 8000, bytes, 8000, at * 8), out);
      sends.push([at, buildRtp({ payloadType: 0, ssrc: 0xa + s, seq: (100 + 20000 * s + k) & 0xffff, timestamp: 5000 + 1_000_000 * s + k * bytes, payload: Buffer.from(out) })]);
      at += ptime;
    }
  });
  for (let ms = 0, i = 0; i < sends.length || ms % 20 !== 0; ms += 10) {
    while (i < sends.length && sends[i][0] <= ms) leg.pushRtp(sends[i++][1], ms);
    if (ms % 20 === 0) mixer.runTick();
  }
  mixer.playOut();
  mixer.close();
  return frames;
}

describe('a change of SSRC between streams of different packet lengths (live leg)', () => {
  it('30 ms packets, then a new SSRC sending 20 ms: the 20 ms frames follow the grid’s numbers, none lost', () => {
    const heard = read(runStreams([[30, 30, 1000], [20, 45, 600]])).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(45) + '6'.repeat(45));
  });

  it('20 ms packets, then a new SSRC sending 30 ms: none lost', () => {
    const heard = read(runStreams([[20, 45, 1000], [30, 30, 600]])).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(45) + '6'.repeat(45));
  });

  it('30 ms, 20 ms, then 30 ms again (each a new SSRC): the second grid follows the 20 ms stream, not the first grid', () => {
    const heard = read(runStreams([[30, 30, 1000], [20, 45, 600], [30, 30, 1000]])).replace(/^\.+/, '').replace(/\.+$/, '');
    assert.equal(heard, '1'.repeat(45) + '6'.repeat(45) + '1'.repeat(45));
  });
});

// RTP packets with no payload on a leg's stream: an empty packet of the audio payload type
// (seen from a field phone, interleaved with its audio) and an RFC 6263 §4.6 keep-alive (an
// empty packet of a payload type not negotiated, in the stream's SSRC and numbering). Neither
// carries audio: each took a slot of the jitter buffer (which plays one a tick by sequence) or
// left a hole in the numbering that was concealed as a lost frame. Checked as audio: a 1000 Hz
// tone in 20 ms packets, each frame of the leg's input read for the tone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { G711Decoder, G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { MixerParticipant } from '../../../src/mixer/mixer-participant.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { purity, rms, tone } from '../../helpers/audio-analysis.ts';
import { buildRtp } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: 101, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };
/** The level of a frame of the tone (amplitude 8000) as rms() reads it. */
const TONE_RMS = 8000 / Math.SQRT2 / 32768;

/** 100 packets of the tone, one a tick, an empty packet of payload type `emptyPt` after every 4th (its own sequence number); the leg's frames and its malformed count. */
function run(emptyPt: number, recordOnlyMs?: number, ptime = 20, reorder: 'none' | 'overtakes' | 'overtaken' = 'none'): { heard: string; malformed: number; lost: number } {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 40, jitterMaxMs: 100, manualClock: true, log });
  const leg: MixerParticipant = mixer.createParticipant('s', media, () => undefined, 'auto', recordOnlyMs);
  mixer.createParticipant('other', { ...media, sendSsrc: 2 }, () => undefined);
  leg.sending = false;
  const frames: Int16Array[] = [];
  mixer.addSink({ writeTick: (t) => void frames.push(Int16Array.from(t.legs.get('s') ?? new Int16Array(160))) });
  const ulaw = new G711Encoder('ulaw');
  const bytes = ptime * 8;
  const out = new Uint8Array(bytes);
  let seq = 65500; // across the wrap
  const n = 2000 / ptime;
  // The packets by the time they are sent: an empty one after every 4th of the tone; `reorder`:
  // each empty one comes before the packet before it ('overtakes'), or after the one after it ('overtaken').
  const sends: [number, Buffer][] = [];
  for (let i = 0; i < n; i++) {
    ulaw.encode(tone(1000, 8000, bytes, 8000, i * bytes), out);
    sends.push([i * ptime, buildRtp({ payloadType: 0, ssrc: 0xa, seq: seq++ & 0xffff, timestamp: 5000 + i * bytes, payload: Buffer.from(out) })]);
    if (i % 4 !== 3) continue;
    const empty = buildRtp({ payloadType: emptyPt, ssrc: 0xa, seq: seq++ & 0xffff, timestamp: 5000 + (i + 1) * bytes, payload: Buffer.alloc(0) });
    if (reorder === 'overtakes') sends.splice(sends.length - 1, 0, [i * ptime, empty]);
    else sends.push([i * ptime + (reorder === 'overtaken' ? ptime : 0), empty]);
  }
  if (reorder === 'overtaken') sends.sort((a, b) => a[0] - b[0] || (a[1].length === 12 ? 1 : 0) - (b[1].length === 12 ? 1 : 0));
  for (let ms = 0, i = 0; i < sends.length || ms % 20 !== 0; ms += 10) {
    while (i < sends.length && sends[i][0] <= ms) leg.pushRtp(sends[i++][1], ms);
    if (ms % 20 === 0) mixer.runTick();
  }
  mixer.playOut();
  const malformed = leg.malformedPayloads;
  const lost = leg.jitterStats.lost;
  mixer.close();
  // '1': the tone at its level; '-': the tone at another (a frame concealed: the last one at half level).
  const heard = frames.map((f) => (purity(f, 8000, 1000) > 0.9 ? (Math.abs(rms(f) / TONE_RMS - 1) < 0.15 ? '1' : '-') : '.')).join('').replace(/^\.+/, '').replace(/\.+$/, '');
  return { heard, malformed, lost };
}

describe('empty RTP packets in a leg’s stream', () => {
  it('empty packets of the audio payload type are dropped and counted: the tone whole, no frame lost or concealed (live leg)', () => {
    const r = run(0);
    assert.equal(r.heard, '1'.repeat(100));
    assert.equal(r.malformed, 25);
  });

  it('a record-only leg (SIPREC) records the tone whole too', () => {
    assert.equal(run(0, 1000).heard, '1'.repeat(100));
  });

  it('30 ms packets (cut onto the grid) with empty ones between: whole', () => {
    assert.equal(run(0, undefined, 30).heard, '1'.repeat(100));
  });

  it('RFC 6263 keep-alives (empty, a payload type not negotiated, in the stream’s numbering) change nothing in the audio and are not counted', () => {
    const r = run(20);
    assert.equal(r.heard, '1'.repeat(100));
    assert.equal(r.malformed, 0);
  });
});

describe('empty RTP packets out of order', () => {
  for (const [what, recordOnlyMs] of [['live leg', undefined], ['record-only leg (SIPREC)', 1000]] as const) {
    it(`${what}: an empty packet that overtakes the packet before it: that packet keeps its place, every frame plays, none concealed`, () => {
      const r = run(0, recordOnlyMs, 20, 'overtakes');
      assert.equal(r.heard, '1'.repeat(100));
      assert.deepEqual([r.malformed, r.lost], [25, 0]);
    });

    it(`${what}: an empty packet overtaken by the packet after it: its number is played over, not concealed`, () => {
      const r = run(0, recordOnlyMs, 20, 'overtaken');
      assert.equal(r.heard, '1'.repeat(100));
      assert.deepEqual([r.malformed, r.lost], [25, 0]);
    });
  }

  it('RFC 6263 keep-alives out of order either way: the tone whole', () => {
    for (const reorder of ['overtakes', 'overtaken'] as const) {
      const r = run(20, undefined, 20, reorder);
      assert.equal(r.heard, '1'.repeat(100), reorder);
      assert.deepEqual([r.malformed, r.lost], [0, 0], reorder);
    }
  });
});

describe('empty RTP packets in a forwarded two-party call', () => {
  for (const order of ['in order', 'overtakes', 'overtaken'] as const)
  it(`the listener gets every packet of the tone, in sequence with no gap${order === 'overtaken' ? ' (each empty packet overtaken by the packet after it: it fills its number, empty)' : order === 'overtakes' ? ', and no empty one (each empty packet overtakes the packet before it)' : ', and no empty one'}`, () => {
    const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 40, jitterMaxMs: 100, manualClock: true, log });
    const heard: Buffer[] = [];
    const a = mixer.createParticipant('a', media, () => undefined);
    const b = mixer.createParticipant('b', { ...media, sendSsrc: 2 }, (buf) => void heard.push(Buffer.from(buf)));
    const ulaw = new G711Encoder('ulaw');
    const out = new Uint8Array(160);
    const quiet = new Uint8Array(160).fill(0xff);
    const modes = new Set<string>();
    let seq = 1000;
    let late: Buffer | null = null;
    let emptySent = 0;
    for (let i = 0; i < 150; i++) {
      ulaw.encode(tone(1000, 8000, 160, 8000, i * 160), out);
      const audio = buildRtp({ payloadType: 0, ssrc: 0xa, seq: seq++, timestamp: i * 160, payload: Buffer.from(out) });
      const empty = i % 4 === 3 ? buildRtp({ payloadType: 0, ssrc: 0xa, seq: seq++, timestamp: (i + 1) * 160, payload: Buffer.alloc(0) }) : null;
      if (empty && order === 'overtakes') a.pushRtp(empty, i * 20);
      a.pushRtp(audio, i * 20);
      if (late) a.pushRtp(late, i * 20);
      late = null;
      if (empty && order === 'in order') a.pushRtp(empty, i * 20);
      if (empty && order === 'overtaken') late = empty;
      if (empty) emptySent++;
      b.pushRtp(buildRtp({ payloadType: 0, ssrc: 0xb, seq: 7 + i, timestamp: i * 160, payload: Buffer.from(quiet) }), i * 20);
      mixer.runTick();
      if (i > 20) modes.add(mixer.stats.mode);
    }
    mixer.close();
    assert.ok(modes.has('forward'), `forwarded (${[...modes].join(',')})`);
    // The listener's stream whole, in sequence order (as its jitter buffer reads it).
    const stream = heard.filter((p) => (p[1] & 0x7f) === 0).sort((x, y) => ((x.readUInt16BE(2) - y.readUInt16BE(2) + 0x8000) & 0xffff) - 0x8000).slice(10, -5);
    assert.ok(stream.length > 100, `${stream.length} packets`);
    const gaps = stream.slice(1).filter((p, i) => ((p.readUInt16BE(2) - stream[i].readUInt16BE(2)) & 0xffff) !== 1).length;
    assert.equal(gaps, 0, 'sequence numbers one after another');
    const empties = stream.filter((p) => p.length <= 12).length;
    // (Overtaken: the holes they fill, one per empty packet sent while forwarding, are the gaps checked above.)
    if (order === 'overtaken') assert.ok(empties > 25 && empties <= emptySent, `${empties} empty packets, ${emptySent} sent`);
    else assert.equal(empties, 0, 'no empty packet');
    const dec = new G711Decoder('ulaw');
    const pcm = new Int16Array(160);
    const audio = stream.filter((p) => p.length > 12);
    const notTone = audio.filter((p) => {
      dec.decode(p.subarray(12), pcm);
      return purity(pcm, 8000, 1000) < 0.9;
    }).length;
    assert.equal(notTone, 0, 'every packet the tone');
    // Every frame of the tone once: as many as the packets' timestamps span.
    assert.equal(new Set(audio.map((p) => p.readUInt32BE(4))).size, audio.length, 'no frame twice');
  });
});

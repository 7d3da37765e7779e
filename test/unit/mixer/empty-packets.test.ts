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
import { purity, tone } from '../../helpers/audio-analysis.ts';
import { buildRtp } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: 101, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };

/** 100 packets of the tone, one a tick, an empty packet of payload type `emptyPt` after every 4th (its own sequence number); the leg's frames and its malformed count. */
function run(emptyPt: number, recordOnlyMs?: number, ptime = 20): { heard: string; malformed: number } {
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
  for (let ms = 0, i = 0; i < n || ms % 20 !== 0; ms += 10) {
    if (ms % ptime === 0 && i < n) {
      ulaw.encode(tone(1000, 8000, bytes, 8000, i * bytes), out);
      leg.pushRtp(buildRtp({ payloadType: 0, ssrc: 0xa, seq: seq++ & 0xffff, timestamp: 5000 + i * bytes, payload: Buffer.from(out) }), ms);
      if (i % 4 === 3) leg.pushRtp(buildRtp({ payloadType: emptyPt, ssrc: 0xa, seq: seq++ & 0xffff, timestamp: 5000 + (i + 1) * bytes, payload: Buffer.alloc(0) }), ms);
      i++;
    }
    if (ms % 20 === 0) mixer.runTick();
  }
  mixer.playOut();
  const malformed = leg.malformedPayloads;
  mixer.close();
  const heard = frames.map((f) => (purity(f, 8000, 1000) > 0.9 ? '1' : '.')).join('').replace(/^\.+/, '').replace(/\.+$/, '');
  return { heard, malformed };
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

describe('empty RTP packets in a forwarded two-party call', () => {
  it('the listener gets every packet of the tone, in sequence with no gap, and no empty one', () => {
    const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 40, jitterMaxMs: 100, manualClock: true, log });
    const heard: Buffer[] = [];
    const a = mixer.createParticipant('a', media, () => undefined);
    const b = mixer.createParticipant('b', { ...media, sendSsrc: 2 }, (buf) => void heard.push(Buffer.from(buf)));
    const ulaw = new G711Encoder('ulaw');
    const out = new Uint8Array(160);
    const quiet = new Uint8Array(160).fill(0xff);
    const modes = new Set<string>();
    let seq = 1000;
    for (let i = 0; i < 150; i++) {
      ulaw.encode(tone(1000, 8000, 160, 8000, i * 160), out);
      a.pushRtp(buildRtp({ payloadType: 0, ssrc: 0xa, seq: seq++, timestamp: i * 160, payload: Buffer.from(out) }), i * 20);
      if (i % 4 === 3) a.pushRtp(buildRtp({ payloadType: 0, ssrc: 0xa, seq: seq++, timestamp: (i + 1) * 160, payload: Buffer.alloc(0) }), i * 20);
      b.pushRtp(buildRtp({ payloadType: 0, ssrc: 0xb, seq: 7 + i, timestamp: i * 160, payload: Buffer.from(quiet) }), i * 20);
      mixer.runTick();
      if (i > 20) modes.add(mixer.stats.mode);
    }
    mixer.close();
    assert.ok(modes.has('forward'), `forwarded (${[...modes].join(',')})`);
    const audio = heard.filter((p) => (p[1] & 0x7f) === 0).slice(10, -5);
    assert.ok(audio.length > 100, `${audio.length} packets`);
    const gaps = audio.slice(1).filter((p, i) => ((p.readUInt16BE(2) - audio[i].readUInt16BE(2)) & 0xffff) !== 1).length;
    assert.equal(gaps, 0, 'sequence numbers one after another');
    assert.equal(audio.filter((p) => p.length <= 12).length, 0, 'no empty packet');
    const dec = new G711Decoder('ulaw');
    const pcm = new Int16Array(160);
    const notTone = audio.filter((p) => {
      dec.decode(p.subarray(12), pcm);
      return purity(pcm, 8000, 1000) < 0.9;
    }).length;
    assert.equal(notTone, 0, 'every packet the tone');
  });
});

// Opus in-band FEC (RFC 6716 §2.1.7): a lost packet rebuilt from the low-bitrate copy of its
// frame that the next packet carries, through Debian's libopus (the parley-opus addon,
// built by scripts/setup.sh). The signal is a chirp whose pitch and level keep moving, so
// concealment (which extrapolates the frames before the loss) cannot pass for the frame:
// measured against the same stream decoded without loss.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { OpusDecoder, OpusEncoder } from '../../../src/mixer/codecs/opus-codec.ts';
import { opusEngine } from '../../../src/mixer/codecs/opus-engine.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { buildRtp, parseRtp } from '../../helpers/rtp.ts';

const RATE = 16000;
const F = 320;
const N = 100;
const log = pino({ level: 'silent' });

/** 20 ms block k of a 300 → 3000 Hz sweep over 2 s, its level moving at 3 Hz. */
function chirp(k: number): Int16Array {
  const x = new Int16Array(F);
  for (let i = 0; i < F; i++) {
    const t = (k * F + i) / RATE;
    const phase = 2 * Math.PI * (300 * t + (2700 * t * t) / 4);
    x[i] = Math.round(8000 * Math.sin(phase) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t)));
  }
  return x;
}

function encodeChirp(fec: boolean): Uint8Array[] {
  const enc = new OpusEncoder(RATE, 3, fec);
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(1500);
  for (let k = 0; k < N; k++) out.push(buf.slice(0, enc.encode(chirp(k), buf)));
  enc.close();
  return out;
}

/** Each 20 ms block decoded; a lost one by `lostBlock` (recover from the next packet, or conceal). */
function decodeAll(packets: Uint8Array[], lost: Set<number>, lostBlock: (d: OpusDecoder, next: Uint8Array, out: Int16Array) => void): Int16Array[] {
  const d = new OpusDecoder(RATE);
  const blocks = packets.map((p, k) => {
    const out = new Int16Array(F);
    if (lost.has(k)) lostBlock(d, packets[k + 1]!, out);
    else d.decode(p, out);
    return out;
  });
  d.close();
  return blocks;
}

/** Normalized correlation of two blocks. */
function corr(a: Int16Array, b: Int16Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

const LOST = new Set([30, 50, 70]);

describe('Opus in-band FEC (libopus through the parley-opus addon)', () => {
  it('the codecs run on the native libopus (scripts/setup.sh builds the addon with libopus-dev)', () => {
    const e = opusEngine();
    assert.ok(e.native, `the parley-opus addon is not loaded: ${e.why}`);
    assert.match(e.version ?? '', /^libopus \d+\.\d+/);
  });

  it('a lost packet is rebuilt from the next one: its block matches the stream without loss (concealment does not)', () => {
    const packets = encodeChirp(true);
    const ref = decodeAll(packets, new Set(), () => assert.fail('nothing lost'));
    const fec = decodeAll(packets, LOST, (d, next, out) => d.recover(next, out));
    const plc = decodeAll(packets, LOST, (d, _next, out) => d.conceal(out));
    for (const k of LOST) {
      const cf = corr(fec[k]!, ref[k]!);
      const cp = corr(plc[k]!, ref[k]!);
      assert.ok(cf > 0.9, `block ${k} rebuilt from FEC: correlation ${cf.toFixed(3)} with the block without loss`);
      assert.ok(cp < 0.6, `block ${k} concealed: correlation ${cp.toFixed(3)} (the sweep moved on)`);
      // The block after the loss is decoded from its own packet as before.
      assert.ok(corr(fec[k + 1]!, ref[k + 1]!) > 0.9, `block ${k + 1} after the rebuilt one`);
    }
  });

  it('a stream without FEC (the sender ignored useinbandfec): recover() conceals, as conceal() does', () => {
    const packets = encodeChirp(false);
    const fec = decodeAll(packets, LOST, (d, next, out) => d.recover(next, out));
    const plc = decodeAll(packets, LOST, (d, _next, out) => d.conceal(out));
    for (const k of LOST) assert.deepEqual(fec[k], plc[k], `block ${k}`);
  });

  it('a next packet libopus refuses: the lost block is concealed; a closed codec closes once', () => {
    const packets = encodeChirp(true);
    const d = new OpusDecoder(RATE);
    const out = new Int16Array(F);
    for (let k = 0; k < 10; k++) d.decode(packets[k]!, out);
    // A TOC of code 3 with a frame count of 0 (RFC 6716 §3.4 [R5]): invalid.
    assert.equal(d.recover(Uint8Array.of(0x0b, 0x00), out), F);
    assert.equal(d.recovered, 0, 'nothing rebuilt');
    assert.ok(out.some((v) => v !== 0), 'concealed, not silence');
    d.close();
    d.close();
    const e = new OpusEncoder(RATE, 3, true);
    e.close();
    e.close();
  });

  it("in a room: a leg's lost packets are rebuilt from the packets after them in its jitter buffer, in its stem", () => {
    const packets = encodeChirp(true);
    const ref = decodeAll(packets, new Set(), () => assert.fail('nothing lost'));
    const heard = (lost: Set<number>): { blocks: Int16Array[]; recovered: number } => {
      // jitterMinMs 40: the packet after a lost one is in the buffer when the lost one's turn comes.
      const mixer = new RoomMixer({ sampleRate: RATE, jitterMinMs: 40, jitterMaxMs: 200, manualClock: true, log });
      const frames: Int16Array[] = [];
      mixer.addSink({ writeTick: (t) => frames.push(Int16Array.from(t.legs.get('a') ?? new Int16Array(F))) });
      const a = mixer.createParticipant('a', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 1 }, () => undefined);
      mixer.createParticipant('b', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 2 }, () => undefined);
      try {
        for (let k = 0; k < N + 10; k++) {
          if (k < N && !lost.has(k)) a.pushRtp(buildRtp({ payloadType: 111, seq: (65500 + k) & 0xffff, timestamp: (k * 960) >>> 0, ssrc: 0x77, payload: Buffer.from(packets[k]!) }), k * 20);
          mixer.runTick();
        }
        return { blocks: frames, recovered: a.opusRecovered };
      } finally {
        mixer.close();
      }
    };
    const clean = heard(new Set());
    const lossy = heard(LOST);
    // Where the stream starts in the stem: the clean run's first block with sound.
    const start = clean.blocks.findIndex((b) => b.some((v) => v !== 0));
    assert.ok(start >= 0, 'the clean stream is heard');
    assert.ok(corr(clean.blocks[start + 10]!, ref[10]!) > 0.9, 'the stem holds the stream, block for block');
    for (const k of LOST) {
      const c = corr(lossy.blocks[start + k]!, ref[k]!);
      assert.ok(c > 0.9, `lost block ${k} in the stem: correlation ${c.toFixed(3)} with the block without loss`);
    }
    assert.equal(lossy.recovered, LOST.size, 'each lost packet rebuilt once, counted');
    assert.equal(clean.recovered, 0);
  });

  it("what the mixer encodes for a listener that asked for FEC (useinbandfec=1: ParticipantMedia.sendFec) carries it; for one that did not, it does not", () => {
    const sentTo = (sendFec: boolean): Uint8Array[] => {
      const mixer = new RoomMixer({ sampleRate: RATE, jitterMinMs: 20, jitterMaxMs: 200, manualClock: true, log });
      const got: Uint8Array[] = [];
      const a = mixer.createParticipant('a', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 1 }, () => undefined);
      mixer.createParticipant('b', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 2, sendFec }, (pkt) => {
        got.push(Uint8Array.from(parseRtp(pkt)!.payload));
      });
      // A third, silent leg: the room mixes (two Opus legs alone would be forwarded leg to leg).
      mixer.createParticipant('c', { codec: 'PCMU', audioPt: 0, dtmfPt: null, dtmfClock: 8000, sendPt: 0, sendSsrc: 3 }, () => undefined);
      const packets = encodeChirp(false);
      try {
        for (let k = 0; k < N + 5; k++) {
          if (k < N) a.pushRtp(buildRtp({ payloadType: 111, seq: k, timestamp: k * 960, ssrc: 0x77, payload: Buffer.from(packets[k]!) }), k * 20);
          mixer.runTick();
        }
      } finally {
        mixer.close();
      }
      return got;
    };
    for (const fec of [true, false]) {
      const packets = sentTo(fec);
      assert.ok(packets.length >= N, `b got the mix (${packets.length} packets)`);
      const ref = decodeAll(packets, new Set(), () => assert.fail('nothing lost'));
      const lost = new Set([40, 60, 80]);
      const rebuilt = decodeAll(packets, lost, (d, next, out) => d.recover(next, out));
      for (const k of lost) {
        const c = corr(rebuilt[k]!, ref[k]!);
        if (fec) assert.ok(c > 0.9, `with FEC: block ${k} rebuilt, correlation ${c.toFixed(3)}`);
        else assert.ok(c < 0.85, `without FEC: block ${k} only concealed, correlation ${c.toFixed(3)}`);
      }
    }
  });
});

// Opus packets of every legal length (2.5 to 120 ms) onto the mixer's 20 ms grid: the
// splitter's slots (numbering, timestamps, which frames each holds, what a loss leaves),
// and the whole input path of a real RoomMixer participant (splitter, jitter buffer,
// decoder) hearing a tone sent in such packets: every 20 ms of it, once, in time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpusApplication, OpusWasm } from '../../../src/mixer/codecs/opus-wasm.ts';
import { OpusDecoder } from '../../../src/mixer/codecs/opus-codec.ts';
import { newOpusPacket, readOpusPacket } from '../../../src/mixer/opus-packet.ts';
import { BUNDLE_HEADER, OpusPacketSplitter } from '../../../src/mixer/opus-packet-splitter.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { rms, tone, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { buildRtp, parseRtp } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
const toc = (config: number, code: number): number => (config << 3) | code;

interface Slot {
  seq: number;
  ts: number;
  /** Each frame's offset in the slot (ticks) and one-frame packet length. */
  frames: [number, number][];
}

/** A splitter whose slots are read back. */
function splitter(): { s: OpusPacketSplitter; out: Slot[]; push: (seq: number, ts: number, data: Uint8Array) => void } {
  const out: Slot[] = [];
  const s = new OpusPacketSplitter((seq, ts, b) => {
    const frames: [number, number][] = [];
    assert.equal(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0, ts, 'the bundle names its slot');
    for (let at = BUNDLE_HEADER; at < b.length; ) {
      const len = (b[at + 2] << 8) | b[at + 3];
      frames.push([(b[at] << 8) | b[at + 1], len]);
      assert.equal(b[at + 4] & 3, 0, 'each frame is a code 0 packet');
      at += 4 + len;
    }
    out.push({ seq, ts, frames });
  });
  const p = newOpusPacket();
  return {
    s,
    out,
    push: (seq, ts, data) => {
      assert.ok(readOpusPacket(data, p) > 0, p.error);
      s.push(seq, ts, data, p);
    },
  };
}

describe('OpusPacketSplitter: any packet length onto the 20 ms grid', () => {
  it('takes a stream from its first packet of other than 20 ms, then all of it', () => {
    const { s } = splitter();
    assert.equal(s.takes(960), false, '20 ms packets go straight to the jitter buffer');
    for (const t of [120, 240, 480, 1920, 2880, 3840, 4800, 5760]) assert.equal(s.takes(t), true, `${t / 48} ms`);
  });

  it('10 ms packets: two to a slot, one slot per 20 ms, numbered and timed on the grid (across the wraps)', () => {
    const { out, push } = splitter();
    const t0 = 0xfffffc40; // the timestamp wraps on the way
    for (let i = 0; i < 6; i++) push((65534 + i) & 0xffff, (t0 + i * 480) >>> 0, Uint8Array.of(toc(0, 0), 1, 2));
    assert.deepEqual(out, [
      { seq: 65534, ts: t0, frames: [[0, 3], [480, 3]] },
      { seq: 65535, ts: (t0 + 960) >>> 0, frames: [[0, 3], [480, 3]] },
      { seq: 0, ts: (t0 + 1920) >>> 0, frames: [[0, 3], [480, 3]] },
    ]);
  });

  it('2.5 ms packets: eight to a slot', () => {
    const { out, push } = splitter();
    for (let i = 0; i < 16; i++) push(i, 1000 + i * 120, Uint8Array.of(toc(16, 0), 9));
    assert.equal(out.length, 2);
    assert.deepEqual(out[1].frames.map((f) => f[0]), [0, 120, 240, 360, 480, 600, 720, 840]);
  });

  it('a 120 ms packet of two 60 ms frames feeds six slots: the frames in the first and the fourth, the others covered by them', () => {
    const { out, push } = splitter();
    push(7, 5000, Uint8Array.of(toc(3, 1), 1, 2, 3, 4));
    push(8, 5000 + 5760, Uint8Array.of(toc(19, 3), 6, 1, 2, 3, 4, 5, 6)); // then 6 × 20 ms CELT
    assert.deepEqual(out.map((o) => o.seq), [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    assert.deepEqual(out.map((o) => o.ts - 5000), [0, 960, 1920, 2880, 3840, 4800, 5760, 6720, 7680, 8640, 9600, 10560]);
    assert.deepEqual(out.slice(0, 6).map((o) => o.frames.length), [1, 0, 0, 1, 0, 0]);
    assert.deepEqual(out.slice(6).map((o) => o.frames.length), [1, 1, 1, 1, 1, 1]);
  });

  it('a lost packet: a 10 ms one leaves its slot half full (sent when the next slot starts); a 120 ms one leaves six slots out (the jitter buffer conceals them)', () => {
    const { out, push } = splitter();
    const ten = Uint8Array.of(toc(0, 0), 1);
    push(0, 0, ten);
    push(1, 480, ten);
    push(2, 960, ten); // 1440 lost
    push(4, 1920, ten);
    assert.deepEqual(out.map((o) => [o.seq, o.frames.map((f) => f[0])]), [[0, [0, 480]], [1, [0]]]);
    const { out: long, push: pushLong } = splitter();
    const p120 = Uint8Array.of(toc(3, 1), 1, 1);
    pushLong(10, 0, p120);
    pushLong(12, 11520, p120); // 5760 lost
    assert.deepEqual(long.map((o) => o.seq), [10, 11, 12, 13, 14, 15, 22, 23, 24, 25, 26, 27]);
  });

  it('a stream that changes its packet length: 10, 20, 120, 40, 5 ms in turn, every slot once, in order', () => {
    const { out, push } = splitter();
    let seq = 0;
    let ts = 90_000;
    const send = (data: Uint8Array, ticks: number, n: number): void => {
      for (let i = 0; i < n; i++) {
        push(seq++, ts, data);
        ts += ticks;
      }
    };
    send(Uint8Array.of(toc(0, 0), 1), 480, 4); // 10 ms × 4 = 2 slots
    send(Uint8Array.of(toc(1, 0), 1), 960, 3); // 20 ms × 3
    send(Uint8Array.of(toc(19, 3), 6, 1, 1, 1, 1, 1, 1), 5760, 1); // 120 ms
    send(Uint8Array.of(toc(2, 0), 1), 1920, 2); // 40 ms × 2
    send(Uint8Array.of(toc(17, 0), 1), 240, 8); // 5 ms × 8
    const seqs = out.map((o) => o.seq);
    assert.deepEqual(seqs, Array.from({ length: 2 + 3 + 6 + 4 + 2 }, (_, i) => i));
    for (let i = 1; i < out.length; i++) assert.equal(out[i].ts - out[i - 1].ts, 960);
  });

  it('drops a duplicate or reordered-late packet; places one whose timestamp overlaps a little right after the last', () => {
    const { s, out, push } = splitter();
    const ten = Uint8Array.of(toc(0, 0), 1);
    push(0, 0, ten);
    push(1, 480, ten);
    push(1, 480, ten); // duplicate
    push(0, 0, ten); // late
    assert.equal(s.stats.late, 2);
    push(2, 950, ten); // 10 ticks early: a sender's timestamps a little off
    push(3, 1430, ten);
    assert.deepEqual(out.map((o) => o.frames.map((f) => f[0])), [[0, 480], [0, 480]]);
  });
});

/** An Opus phone sending a tone in packets of `ptimes` (ms, changing every `every` packets of 20 ms of audio). */
class OpusPhone {
  private readonly enc = new OpusWasm(16000, 1, OpusApplication.VOIP);
  ssrc = 0x1234;
  private seq = 40_000;
  private ts = 0xffff0000;
  private sample = 0;
  private pending: Int16Array[] = [];
  private pendingTs = 0;
  sent = 0;
  constructor(
    readonly hz: number,
    readonly amp: number,
    private readonly ptimeAt: (ms: number) => number,
    private readonly lose: (n: number) => boolean = () => false,
    /** At this many ms of audio (a packet boundary) the phone restarts its stream: a new SSRC, sequence number and timestamp base. */
    private readonly restartAtMs = -1,
  ) {}

  /** The packets of the next 20 ms of audio (those it completes). */
  next(): Buffer[] {
    if (this.sample / 16 === this.restartAtMs) {
      this.ssrc = 0x5678;
      this.seq = 7;
      this.ts = (this.ts + 123_456_789) >>> 0;
    }
    const pcm = tone(this.hz, 16000, 320, this.amp, this.sample);
    const ptime = this.ptimeAt(this.sample / 16);
    this.sample += 320;
    const out: Buffer[] = [];
    const packet = (ts: number, x: Int16Array): void => {
      const payload = this.enc.encode(Buffer.from(x.buffer, x.byteOffset, x.byteLength), x.length);
      const seq = this.seq++ & 0xffff;
      if (!this.lose(this.sent++)) out.push(buildRtp({ payloadType: 111, seq, timestamp: ts >>> 0, ssrc: this.ssrc, payload }));
    };
    const flush = (): void => {
      if (this.pending.length === 0) return;
      const all = new Int16Array(this.pending.length * 320);
      this.pending.forEach((p, i) => all.set(p, i * 320));
      this.pending = [];
      packet(this.pendingTs, all);
    };
    if (ptime < 20 || this.pending.length * 20 >= ptime) flush();
    if (ptime < 20) {
      const per = (320 * ptime) / 20;
      for (let i = 0; i < 20 / ptime; i++) packet(this.ts + i * ptime * 48, pcm.subarray(i * per, (i + 1) * per));
    } else {
      if (this.pending.length === 0) this.pendingTs = this.ts;
      this.pending.push(pcm);
      if (this.pending.length * 20 >= ptime) flush();
    }
    this.ts = (this.ts + 960) >>> 0;
    return out;
  }

  close(): void {
    this.enc.delete();
  }
}

/** What a room's recorder gets of a leg sending `phone`'s packets, arriving just before the tick after their audio ends, plus extra packets. */
function heardInRoom(phone: OpusPhone, ticks: number, extra: (tick: number) => Buffer[] = () => [], jitterMinMs = 20): { pcm: Int16Array; malformed: number; forwarded: number; mode: string } {
  const mixer = new RoomMixer({ sampleRate: 16000, jitterMinMs, jitterMaxMs: 200, manualClock: true, log });
  const frames: Int16Array[] = [];
  mixer.addSink({ writeTick: (t) => frames.push(Int16Array.from(t.legs.get('a') ?? new Int16Array(320))) });
  const a = mixer.createParticipant('a', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 1 }, () => undefined);
  // A second leg on the same codec: a two-party call that would be forwarded if both sent 20 ms.
  const b = mixer.createParticipant('b', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 2 }, () => undefined);
  const bPhone = new OpusPhone(300, 2000, () => 20);
  const modes = new Set<string>();
  try {
    for (let i = 0; i < ticks; i++) {
      const now = i * 20;
      for (const pkt of [...phone.next(), ...extra(i)]) a.pushRtp(pkt, now);
      for (const pkt of bPhone.next()) b.pushRtp(pkt, now);
      mixer.runTick();
      if (i > 20) modes.add(mixer.stats.mode);
    }
    const pcm = new Int16Array(frames.length * 320);
    frames.forEach((f, i) => pcm.set(f, i * 320));
    return { pcm, malformed: a.malformedPayloads, forwarded: mixer.stats.forwarded, mode: [...modes].join(',') };
  } finally {
    mixer.close();
    bPhone.close();
  }
}

const HZ = 1030; // not a whole number of cycles in 2.5, 5, 10 or 20 ms: a repeated or skipped piece shifts its phase
const AMP = 8000;

/** The tone's phase (cycles) in each 20 ms block of pcm, against a steady 1030 Hz. */
function blockPhases(pcm: Int16Array, from: number, to: number): number[] {
  const out: number[] = [];
  for (let b = from; b + 320 <= to; b += 320) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < 320; i++) {
      const w = (2 * Math.PI * HZ * (b + i)) / 16000;
      re += pcm[b + i] * Math.cos(w);
      im += pcm[b + i] * Math.sin(w);
    }
    out.push(Math.atan2(im, re) / (2 * Math.PI));
  }
  return out;
}

/**
 * Checks a leg's heard audio: the tone whole from its start, every 20 ms block at its level
 * (at most `allowGaps` not: a late packet's underrun), and the blocks that hold it one
 * steady tone when put end to end: nothing repeated or skipped (either shifts the phase).
 */
function assertWholeTone(pcm: Int16Array, what: string, allowGaps = 0): void {
  // The first block with the tone, and one more for the decoder's start.
  let start = 0;
  while (start + 320 <= pcm.length && rms(pcm, start, 320) < 0.05) start += 320;
  start += 2 * 320;
  const end = pcm.length - 320;
  assert.ok(end - start > 16000, `${what}: over a second of tone heard (${((end - start) / 16000).toFixed(2)} s from ${start / 320})`);
  const expected = AMP / 32768;
  const weak: number[] = [];
  const whole: number[] = [];
  for (let b = start; b + 320 <= end; b += 320) {
    if (toneAmplitude(pcm, 16000, HZ, b, 320) < 0.7 * expected) weak.push((b - start) / 320);
    else whole.push(b);
  }
  assert.ok(weak.length <= allowGaps, `${what}: 20 ms blocks without the tone at its level: ${weak.length} (${weak.slice(0, 10).join(', ')})`);
  const joined = new Int16Array(whole.length * 320);
  whole.forEach((b, i) => joined.set(pcm.subarray(b, b + 320), i * 320));
  const phases = blockPhases(joined, 0, joined.length);
  const jumps: string[] = [];
  for (let i = 1; i < phases.length; i++) {
    let d = phases[i] - phases[i - 1];
    d -= Math.round(d);
    if (Math.abs(d) > 0.08) jumps.push(`${i}:${d.toFixed(2)}`);
  }
  assert.deepEqual(jumps, [], `${what}: the tone's phase jumps (audio repeated, skipped or moved)`);
}

/** Runs of digital silence of at least 5 ms in pcm: [start, length] in samples. */
function silences(pcm: Int16Array, from: number): [number, number][] {
  const out: [number, number][] = [];
  let run = 0;
  for (let i = from; i <= pcm.length; i++) {
    if (i < pcm.length && pcm[i] === 0) run++;
    else {
      if (run >= 80) out.push([i - run, run]);
      run = 0;
    }
  }
  return out;
}

describe('a room hears Opus of every packet length whole (RoomMixer, manual clock)', () => {
  // A new SSRC goes on from the numbers the jitter buffer got (stream-splice.ts): with 60 ms packets
  // the grid's, three a packet, ahead of the wire's; a 20 ms stream after them, numbered on from
  // the wire's, was behind and dropped as late until the buffer, empty, started over (~300 ms).
  for (const [before, after] of [[60, 20], [20, 60], [10, 20]]) {
    it(`${before} ms packets, then a new SSRC sending ${after} ms: the tone whole across the change`, () => {
      const phone = new OpusPhone(HZ, AMP, (ms) => (ms < 1200 ? before : after), undefined, 1200);
      try {
        assertWholeTone(heardInRoom(phone, 150, undefined, 60).pcm, `${before} → ${after} ms`);
      } finally {
        phone.close();
      }
    });
  }

  for (const ptime of [2.5, 5, 10, 20, 40, 60, 80, 100, 120]) {
    it(`${ptime} ms packets: every 20 ms of the tone, once, in time${ptime === 20 ? ' (and the call is forwarded)' : ' (mixed: the other leg gets 20 ms packets)'}`, () => {
      const phone = new OpusPhone(HZ, AMP, () => ptime);
      try {
        const r = heardInRoom(phone, 150);
        assertWholeTone(r.pcm, `${ptime} ms`);
        assert.equal(r.mode, ptime === 20 ? 'forward' : 'mixed');
      } finally {
        phone.close();
      }
    });
  }

  it('a stream that changes its packet length every 240 ms (10, 120, 20, 60, 2.5, 80, 40): whole, in time', () => {
    const cycle = [10, 120, 20, 60, 2.5, 80, 40];
    const phone = new OpusPhone(HZ, AMP, (ms) => cycle[Math.floor(ms / 240) % cycle.length]);
    try {
      // A buffer as deep as the longest packet (a switch to longer packets delays the audio by the difference).
      assertWholeTone(heardInRoom(phone, 250, undefined, 120).pcm, 'changing lengths');
    } finally {
      phone.close();
    }
  });

  // A loss inside a slot (10 ms packets) is silence as long as the loss; slots lost whole (a
  // 120 ms packet takes six) are concealed by libopus for their first 60 ms (opus-codec.ts),
  // then silence. Either way the silence sits at the loss's place in time.
  it('lost packets: 10 ms ones silence as long as the loss (half a tick); 120 ms ones 60 ms concealed, then 60 ms of silence; at their place in time', () => {
    for (const [ptime, every] of [[10, 40], [120, 4]] as const) {
      const phone = new OpusPhone(HZ, AMP, () => ptime, (n) => n % every === every - 1);
      try {
        const { pcm } = heardInRoom(phone, 300);
        const gaps = silences(pcm, 40 * 320);
        const lossSamples = ptime * 16;
        const silent = ptime === 120 ? lossSamples - 3 * 320 : lossSamples;
        const period = every * lossSamples;
        const losses = Math.floor((pcm.length - 40 * 320) / period);
        assert.ok(gaps.length >= Math.max(3, losses - 1) && gaps.length <= losses + 1, `${ptime} ms, every ${every}th lost: ${gaps.length} gaps for ~${losses} losses: ${JSON.stringify(gaps)}`);
        // Each gap as long as the loss not concealed (a gap at a slot boundary: the same), one period apart: nothing moved between them.
        assert.ok(gaps.every(([, n]) => Math.abs(n - silent) <= 2), `${ptime} ms: gaps of ${silent} samples: ${gaps.map((g) => g[1]).join(' ')}`);
        for (let i = 1; i < gaps.length; i++) assert.equal(gaps[i][0] - gaps[i - 1][0], period, `${ptime} ms: loss ${i} one period after the one before`);
      } finally {
        phone.close();
      }
    }
  });

  // The two-party path: forwarded while both legs send 20 ms, mixed from the talker's first
  // packet of another length (its listener gets the mixer's 20 ms packets, one stream on). At
  // the switch the listener's audio moves by the re-encoding's delay (some 6 ms of Opus
  // look-ahead and decoder delay: the mixed path decodes and encodes again), as at any switch
  // to mixing; a pure tone cannot tell that from a skipped frame, so each side of the switch
  // is judged on its own (G.711 noise shows no frame twice or left out there: two-party.test.ts).
  it('a forwarded call whose talker switches from 20 to 10 ms packets: mixed from then on, the listener hears the tone whole on both sides of the switch', () => {
    const mixer = new RoomMixer({ sampleRate: 16000, jitterMinMs: 20, jitterMaxMs: 200, manualClock: true, log });
    const heard: Buffer[] = [];
    const a = mixer.createParticipant('a', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 1 }, () => undefined);
    const b = mixer.createParticipant('b', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 2 }, (buf) => void heard.push(Buffer.from(buf)));
    const talker = new OpusPhone(HZ, AMP, (ms) => (ms < 1400 ? 20 : 10));
    const listener = new OpusPhone(300, 0, () => 20); // sends silence
    const dec = new OpusDecoder(16000);
    const modes: string[] = [];
    try {
      for (let i = 0; i < 160; i++) {
        for (const pkt of talker.next()) a.pushRtp(pkt, i * 20);
        for (const pkt of listener.next()) b.pushRtp(pkt, i * 20);
        mixer.runTick();
        modes.push(mixer.stats.mode);
      }
      const sw = modes.indexOf('mixed');
      assert.ok(sw >= 69 && sw <= 72 && modes.slice(5, sw).every((m) => m === 'forward'), `forwarded while both send 20 ms, mixed from the talker's first 10 ms packet (tick ${sw}): ${modes.join(' ')}`);
      assert.equal(modes.at(-1), 'mixed', 'mixed once the talker sends 10 ms');
      assert.equal(b.forwarded > 20 && mixer.stats.toMixed, 1);
      // One stream to the listener, 20 ms packets, decoded in order.
      const pkts = heard.map((h) => parseRtp(h)!).filter((p) => p.payloadType === 111);
      for (let i = 1; i < pkts.length; i++) {
        assert.equal((pkts[i].seq - pkts[i - 1].seq) & 0xffff, 1, `sequence at ${i}`);
        assert.equal((pkts[i].timestamp - pkts[i - 1].timestamp) >>> 0, 960, `timestamp at ${i}`);
      }
      const pcm = new Int16Array(pkts.length * 320);
      const frame = new Int16Array(320);
      pkts.forEach((p, i) => {
        dec.decode(p.payload, frame);
        pcm.set(frame, i * 320);
      });
      // (The encoders' start-up aside: the first 300 ms.)
      assertWholeTone(pcm.subarray(15 * 320, sw * 320), 'what the listener hears forwarded');
      assertWholeTone(pcm.subarray((sw + 3) * 320), 'what the listener hears mixed');
    } finally {
      mixer.close();
      talker.close();
      listener.close();
      dec.close();
    }
  });

  it('malformed Opus packets are dropped and counted, never heard: the tone around them whole', () => {
    const phone = new OpusPhone(HZ, AMP, () => 10);
    const bad = [
      Uint8Array.of(toc(19, 3), 0), // code 3, 0 frames
      Uint8Array.of(toc(3, 3), 3, 1, 2, 3), // 180 ms
      Uint8Array.of(toc(19, 2), 200, 1), // truncated
      new Uint8Array(0),
      Uint8Array.of(toc(19, 3), 0x80 | 2, 250, 1, 2),
    ];
    let n = 0;
    try {
      const r = heardInRoom(phone, 150, (tick) => (tick % 10 === 5 ? [buildRtp({ payloadType: 111, seq: (60_000 + tick) & 0xffff, timestamp: 0xffff0000 + tick * 960 + 100, ssrc: 0x1234, payload: Buffer.from(bad[n++ % bad.length]) })] : []));
      assert.equal(r.malformed, 15, 'each counted');
      assertWholeTone(r.pcm, 'with malformed packets among them');
    } finally {
      phone.close();
    }
  });
});

describe('OpusDecoder: bundles', () => {
  it('decodes a 120 ms packet at 48 kHz (beyond one libopus call of opusscript there) and an empty slot plays what a long frame left', () => {
    const enc = new OpusWasm(16000, 1, OpusApplication.VOIP);
    const dec = new OpusDecoder(48000);
    const slots: Slot[] = [];
    const bundles: Uint8Array[] = [];
    const s = new OpusPacketSplitter((seq, ts, b) => {
      slots.push({ seq, ts, frames: [] });
      bundles.push(Uint8Array.from(b));
    });
    try {
      const p = newOpusPacket();
      for (let k = 0; k < 4; k++) {
        const pcm = tone(HZ, 16000, 1920, AMP, k * 1920);
        const packet = enc.encode(Buffer.from(pcm.buffer), 1920);
        assert.equal(readOpusPacket(packet, p), 5760);
        s.push(k, k * 5760, packet, p);
      }
      assert.equal(bundles.length, 24);
      const out = new Int16Array(960);
      const levels = bundles.map((b) => {
        dec.decodeBundle(b, out);
        return toneAmplitude(out, 48000, HZ) / (AMP / 32768);
      });
      assert.ok(levels.slice(6).every((a) => a > 0.8), `every 20 ms at the tone's level: ${levels.map((a) => a.toFixed(2)).join(' ')}`);
      const before = Int16Array.from(out);
      dec.conceal(out);
      assert.ok(out.some((x, i) => x !== before[i]), 'a lost slot after them is concealed by libopus, not a repeat of the slot before');
    } finally {
      enc.delete();
      dec.close();
    }
  });
});


describe('random Opus payloads (fuzz)', () => {
  it('3000 random packets into a room leg: none throws; the malformed are counted, the rest split, decoded and mixed', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const mixer = new RoomMixer({ sampleRate: 48000, jitterMinMs: 20, jitterMaxMs: 100, manualClock: true, log });
    let heard = 0;
    mixer.addSink({ writeTick: (t) => void (t.legs.get('a') ? heard++ : 0) });
    const a = mixer.createParticipant('a', { codec: 'opus', audioPt: 111, dtmfPt: null, dtmfClock: 48000, sendPt: 111, sendSsrc: 1 }, () => undefined);
    const p = newOpusPacket();
    let malformed = 0;
    let ts = 0;
    try {
      for (let i = 0; i < 3000; i++) {
        const payload = new Uint8Array(rnd(4) === 0 ? rnd(1400) : rnd(40));
        for (let j = 0; j < payload.length; j++) payload[j] = rnd(256);
        if (readOpusPacket(payload, p) < 0) malformed++;
        ts += [120, 240, 480, 960, 1920, 2880, 5760][rnd(7)];
        a.pushRtp(buildRtp({ payloadType: 111, seq: i & 0xffff, timestamp: ts >>> 0, ssrc: 7, payload: Buffer.from(payload) }), i * 10);
        if (i % 2 === 0) mixer.runTick();
      }
      assert.equal(a.malformedPayloads, malformed, 'every malformed one counted');
      assert.ok(malformed > 300 && malformed < 2700, `both kinds among them: ${malformed} malformed of 3000`);
      assert.ok(heard > 500, `the leg was heard meanwhile (${heard} ticks)`);
    } finally {
      mixer.close();
    }
  });
});

describe('OpusPacketSplitter: a new grid', () => {
  it('after a timestamp jump, numbers its slots on from the last grid (not from the packet: 60 ms packets are three slots each); after a new SSRC (reset), from its packet', () => {
    const { s, out, push } = splitter();
    for (let i = 0; i < 5; i++) push(100 + i, i * 2880, Uint8Array.of(toc(3, 0), 1, 2)); // 60 ms each: slots 100..114
    assert.deepEqual(out.map((o) => o.seq), Array.from({ length: 15 }, (_, i) => 100 + i));
    s.reset();
    push(115, 777_777, Uint8Array.of(toc(3, 0), 1, 2)); // the new stream's packet after slot 114 (StreamSplice follows the slots the buffer got)
    assert.deepEqual(out.slice(15).map((o) => o.seq), [115, 116, 117]);
    push(116, 777_777 + 2880 + 48_000 * 600, Uint8Array.of(toc(3, 0), 1, 2)); // ten minutes ahead
    assert.deepEqual(out.slice(18).map((o) => o.seq), [118, 119, 120]);
  });
});

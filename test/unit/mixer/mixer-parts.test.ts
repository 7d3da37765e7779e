import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DtmfEvent } from '../../../src/dtmf/dtmf-event.ts';
import { Rfc4733Receiver } from '../../../src/dtmf/rfc4733-receiver.ts';
import { ALAW_DECODE, ULAW_DECODE, alawEncode, ulawEncode } from '../../../src/mixer/codecs/g711.ts';
import { Resampler } from '../../../src/mixer/codecs/resampler.ts';
import { JitterBuffer, LOST } from '../../../src/mixer/jitter-buffer.ts';
import { SoftLimiter } from '../../../src/mixer/soft-limiter.ts';
import { purity, tone, toneAmplitude } from '../../helpers/audio-analysis.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { buildRtp, dtmfPayload } from '../../helpers/rtp.ts';

const payload = new Uint8Array(160);

describe('jitter buffer', () => {
  it('reorders, conceals a loss, drops late and duplicate packets', () => {
    const jb = new JitterBuffer(20, 100, 8000);
    const push = (seq: number): boolean => jb.push(seq, seq * 160, 0, payload, seq * 20);
    push(10);
    push(12);
    push(11);
    assert.equal(push(11), false, 'duplicate');
    const order: (number | string)[] = [];
    for (let i = 0; i < 3; i++) {
      const s = jb.pop();
      order.push(s === LOST ? 'lost' : s === null ? 'none' : s.seq);
    }
    assert.deepEqual(order, [10, 11, 12]);
    push(14);
    push(15);
    const a = jb.pop();
    assert.equal(a, LOST, '13 is missing while 14 waits: concealed');
    assert.equal((jb.pop() as { seq: number }).seq, 14);
    assert.equal(push(12), false, 'late');
    assert.equal(jb.stats.late, 1);
    assert.equal(jb.stats.duplicates, 1);
  });

  it('stays bounded: a burst beyond the maximum depth sheds the oldest', () => {
    const jb = new JitterBuffer(20, 100, 8000);
    for (let s = 0; s < 40; s++) jb.push(s, s * 160, 0, payload, 0);
    // Its room: the maximum (5 frames) or a 120 ms Opus packet's 6 frames, whichever is more, plus 3.
    assert.ok(jb.depth <= 9, `depth ${jb.depth}`);
    jb.pop();
    jb.pop();
    assert.ok(jb.depth * 20 <= jb.targetMs + 60, `latency bounded: depth ${jb.depth}, target ${jb.targetMs}`);
  });

  it('deepens its target after an underrun, within the maximum', () => {
    const jb = new JitterBuffer(20, 60, 8000);
    jb.push(1, 160, 0, payload, 0);
    jb.pop();
    for (let i = 0; i < 10; i++) assert.equal(jb.pop(), null);
    assert.equal(jb.targetMs, 60);
  });
});

describe('RFC 4733 receiver', () => {
  function feed(): { rx: Rfc4733Receiver; got: DtmfEvent[] } {
    const got: DtmfEvent[] = [];
    return { rx: new Rfc4733Receiver(8000, (e) => got.push(e)), got };
  }

  it('reports a digit once despite three end packets, with its duration', () => {
    const { rx, got } = feed();
    let seq = 1;
    for (const d of [160, 320, 480]) rx.handle(1, seq++, 8000, dtmfPayload('7', false, d), 0);
    for (let k = 0; k < 3; k++) rx.handle(1, seq++, 8000, dtmfPayload('7', true, 800), 0);
    assert.deepEqual(got, [{ digit: '7', durationMs: 100, source: 'rfc4733' }]);
  });

  it('a repeated digit with its own timestamp is reported again; one reusing the timestamp after its end too', () => {
    const { rx, got } = feed();
    rx.handle(1, 1, 100, dtmfPayload('1', true, 800), 0);
    rx.handle(1, 2, 100, dtmfPayload('1', true, 800), 0);
    rx.handle(1, 3, 2000, dtmfPayload('1', false, 160), 0);
    rx.handle(1, 4, 2000, dtmfPayload('1', true, 800), 0);
    // A sender that reuses the timestamp for the next press (seen with SIPp's pcaps):
    rx.handle(1, 5, 2000, dtmfPayload('1', false, 160), 0);
    rx.handle(1, 6, 2000, dtmfPayload('1', true, 640), 0);
    assert.deepEqual(got.map((e) => e.digit), ['1', '1', '1']);
  });

  it('reports an event whose end packets were all lost: on the next event or after a silence', () => {
    const { rx, got } = feed();
    rx.handle(1, 1, 100, dtmfPayload('3', false, 480), 0);
    rx.handle(1, 2, 900, dtmfPayload('4', false, 160), 10);
    assert.deepEqual(got.map((e) => e.digit), ['3']);
    rx.poll(500);
    assert.equal(got.length, 1);
    rx.poll(1500);
    assert.deepEqual(got.map((e) => e.digit), ['3', '4']);
  });

  it("a participant's re-offer (same telephone-event clock) between a digit's end packets reports the digit once", () => {
    const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 20, jitterMaxMs: 100, log: silentLogger() });
    const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: 101, dtmfClock: 8000, sendPt: 0, sendSsrc: 9 };
    try {
      const p = mixer.createParticipant('a', media, () => undefined);
      const got: string[] = [];
      p.on('dtmf', (e) => got.push(e.digit));
      const packet = (seq: number, end: boolean, duration: number): Buffer => buildRtp({ payloadType: 101, seq, timestamp: 8000, ssrc: 7, payload: dtmfPayload('5', end, duration) });
      p.pushRtp(packet(1, false, 160), 0);
      p.pushRtp(packet(2, true, 800), 20);
      p.setMedia({ ...media, sendSsrc: 9 }); // a hold or a session refresh: nothing changed
      p.pushRtp(packet(3, true, 800), 40);
      p.pushRtp(packet(4, true, 800), 60);
      assert.deepEqual(got, ['5'], 'the end retransmissions after the re-offer are not a new digit');
    } finally {
      mixer.close();
    }
  });

  it("a participant reports a digit whose end packets were all lost 1 s after its last packet, its packets timed by arrival (performance.now()) while the room's clock runs from 0", () => {
    const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 20, jitterMaxMs: 100, manualClock: true, log: silentLogger() });
    const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: 101, dtmfClock: 8000, sendPt: 0, sendSsrc: 9 };
    try {
      const p = mixer.createParticipant('a', media, () => undefined);
      const got: string[] = [];
      p.on('dtmf', (e) => got.push(e.digit));
      // A phone that sends a digit's first five packets; its end packets are all lost.
      const arrival = 36_000_000; // ten hours of uptime, as pushRtp's nowMs is in production
      for (let k = 0; k < 5; k++) p.pushRtp(buildRtp({ payloadType: 101, seq: 1 + k, timestamp: 8000, ssrc: 7, payload: dtmfPayload('1', false, 160 * (k + 1)) }), arrival + 20 * k);
      for (let t = 0; t < 40; t++) mixer.runTick();
      assert.deepEqual(got, [], 'not before the second is over');
      for (let t = 0; t < 30; t++) mixer.runTick();
      assert.deepEqual(got, ['1'], 'reported once its last packet is over a second old (room time)');
    } finally {
      mixer.close();
    }
  });

  it('ignores reordered old packets', () => {
    const { rx, got } = feed();
    rx.handle(1, 10, 100, dtmfPayload('5', true, 800), 0);
    rx.handle(1, 9, 100, dtmfPayload('5', false, 160), 0);
    assert.equal(got.length, 1);
  });
});

describe('soft limiter', () => {
  it('never wraps or truncates a hot mix: three full-scale tones stay in range and keep their shape', () => {
    const lim = new SoftLimiter();
    const n = 320;
    const acc = new Int32Array(n);
    const out = new Int16Array(n);
    const t = tone(500, 16000, n, 30000);
    for (let i = 0; i < n; i++) acc[i] = 3 * t[i];
    lim.process(acc, out, n);
    let peak = 0;
    for (const v of out) peak = Math.max(peak, Math.abs(v));
    assert.ok(peak <= 32767 && peak > 20000, `peak ${peak}`);
    assert.ok(purity(out, 16000, 500) > 0.95, 'still a 500 Hz tone, not a clipped square');
  });

  it('passes a quiet mix unchanged', () => {
    const lim = new SoftLimiter();
    const acc = Int32Array.from(tone(500, 16000, 320, 5000));
    const out = new Int16Array(320);
    lim.process(acc, out, 320);
    assert.deepEqual(Array.from(out), Array.from(acc));
  });

  it('a listener\'s mix-minus (total − own) gives what limiting the difference gives, quiet or hot', () => {
    for (const level of [5000, 30000]) {
      const own = tone(700, 16000, 320, level);
      const other = tone(500, 16000, 320, level);
      const total = Int32Array.from(other, (v, i) => 2 * v + own[i]);
      const diff = Int32Array.from(total, (v, i) => v - own[i]);
      const a = new Int16Array(320);
      const b = new Int16Array(320);
      new SoftLimiter().process(total, a, 320, own);
      new SoftLimiter().process(diff, b, 320);
      assert.deepEqual(Array.from(a), Array.from(b), `level ${level}`);
      assert.ok(purity(a, 16000, 700) < 0.001, 'the own tone is gone');
    }
  });
});

describe('codecs and resampling', () => {
  it('G.711 tables round-trip within the quantisation step', () => {
    for (const s of [0, 100, -100, 1000, -5000, 20000, -32768, 32767]) {
      assert.ok(Math.abs(ULAW_DECODE[ulawEncode(s)] - s) <= Math.max(16, Math.abs(s) / 16), `ulaw ${s}`);
      assert.ok(Math.abs(ALAW_DECODE[alawEncode(s)] - s) <= Math.max(16, Math.abs(s) / 16), `alaw ${s}`);
    }
  });

  it('8 → 16 → 8 kHz keeps a 1 kHz tone and its level; 16 → 8 removes 6 kHz', () => {
    const up = new Resampler(8000, 16000);
    const down = new Resampler(16000, 8000);
    const mid = new Int16Array(320);
    const back = new Int16Array(160);
    const all: number[] = [];
    for (let f = 0; f < 10; f++) {
      up.process(tone(1000, 8000, 160, 10000, f * 160), mid);
      down.process(mid, back);
      if (f > 2) all.push(...back);
    }
    assert.ok(Math.abs(32768 * toneAmplitude(all, 8000, 1000) - 10000) < 600, `amplitude ${32768 * toneAmplitude(all, 8000, 1000)}`);
    const d2 = new Resampler(16000, 8000);
    const out = new Int16Array(160);
    const alias: number[] = [];
    for (let f = 0; f < 10; f++) {
      d2.process(tone(6000, 16000, 320, 10000, f * 320), out);
      if (f > 2) alias.push(...out);
    }
    assert.ok(32768 * toneAmplitude(alias, 8000, 2000) < 300, `6 kHz must not fold to 2 kHz (${32768 * toneAmplitude(alias, 8000, 2000)})`);
  });
});

// A leg's RTP with more than one SSRC (ssrc-probation.ts): a second SSRC interleaved with the
// stream (a broken phone, or anyone who can send from the latched address), a flood of new
// SSRCs, a genuine change (the old stream stops), a gateway's telephone-events from an SSRC of
// their own, and a peer that comes back from a new address with a new SSRC. Real packets through
// RtpReceiver into a mixer participant, on the room's 20 ms ticks; checked as audio: the leg's
// frame of each tick read for its tone (1000 Hz the stream, 600 Hz the other SSRC) and its level
// (a concealed frame is the last one at half level, a lost one silence). And RFC 6263 keep-alives of a payload type
// not negotiated in the stream's numbering.
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { describe, it, mock } from 'node:test';
import { performance } from 'node:perf_hooks';
import type { EndpointStats, RtpEndpointOptions } from '../../../src/media-plane/rtp-endpoint.ts';
import { RtpReceiver } from '../../../src/media-plane/rtp-receiver.ts';
import { G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { MixerParticipant } from '../../../src/mixer/mixer-participant.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { purity, rms, tone } from '../../helpers/audio-analysis.ts';
import { buildRtp, dtmfPayload } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
const media = { codec: 'PCMU' as const, audioPt: 0, dtmfPt: 101, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };
const PEER = { address: '127.0.0.1', port: 4000, family: 'IPv4', size: 172 } as dgram.RemoteInfo;
/** The level of a frame of the tone (amplitude 8000) as rms() reads it. */
const TONE_RMS = 8000 / Math.SQRT2 / 32768;

interface Leg {
  rx: RtpReceiver;
  stats: EndpointStats;
  leg: MixerParticipant;
  ssrcs: number[];
  digits: string[];
  /** Where the leg latched, in order. */
  latchedTo: string[];
  /** Sends `pkt` from `from` at the current time, then (tick) runs the room's tick. */
  send(pkt: Buffer, from?: dgram.RemoteInfo): void;
  tick(): void;
  /** The leg's frames so far as '1' (1000 Hz at full level), '6' (600 Hz), '-' (1000 Hz at another level: concealed), '.' (else). */
  heard(): string;
  /** Advances the clock by `ms` without ticks (a silence the room's clock skips in this test). */
  skip(ms: number): void;
}

function leg(t: { after(fn: () => void): void }, jitterMinMs = 40): Leg {
  let now = 10_000;
  t.after(() => mock.restoreAll());
  mock.method(performance, 'now', () => now);
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs, jitterMaxMs: 100, manualClock: true, log });
  const leg = mixer.createParticipant('s', media, () => undefined);
  mixer.createParticipant('other', { ...media, sendSsrc: 2 }, () => undefined);
  leg.sending = false;
  const digits: string[] = [];
  leg.on('dtmf', (e) => digits.push(e.digit));
  const frames: Int16Array[] = [];
  mixer.addSink({ writeTick: (w) => void frames.push(Int16Array.from(w.legs.get('s') ?? new Int16Array(160))) });
  const stats: EndpointStats = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, rtcpIn: 0, rtcpOut: 0, malformed: 0, otherProtocol: 0, wrongSource: 0, unexpectedPt: 0, srtpFailures: 0, ssrcProbation: 0, ssrcChanges: 0 };
  const ssrcs: number[] = [];
  const opts = { latching: 'latch', log, onRtp: (p: Buffer, ms: number) => leg.pushRtp(p, ms), onSkip: (p: Buffer, ms: number) => leg.pushRtp(p, ms), onSsrc: (s: number) => ssrcs.push(s) } as unknown as RtpEndpointOptions;
  const latchedTo: string[] = [];
  const rx = new RtpReceiver(stats, opts, (r) => latchedTo.push(`${r.address}:${r.port}`));
  rx.configure({ remote: { ip: PEER.address, port: PEER.port, rtcpPort: null, rtcpMux: true }, payloadTypes: [0, 101], audioPt: 0, srtp: null, sending: true }, false);
  t.after(() => mixer.close());
  return {
    rx,
    stats,
    leg,
    ssrcs,
    digits,
    latchedTo,
    send: (pkt, from = PEER) => rx.onRtpMessage(pkt, from),
    tick: () => {
      mixer.runTick();
      now += 20;
    },
    skip: (ms) => void (now += ms),
    heard: () => {
      mixer.playOut();
      return frames
        .map((f) => (purity(f, 8000, 1000) > 0.9 ? (Math.abs(rms(f) / TONE_RMS - 1) < 0.15 ? '1' : '-') : purity(f, 8000, 600) > 0.9 ? '6' : '.'))
        .join('')
        .replace(/^\.+/, '')
        .replace(/\.+$/, '');
    },
  };
}

const ulaw = new G711Encoder('ulaw');
/** Packet `k` of a 20 ms PCMU stream of `hz` from `ssrc` (sequence numbers from `seq0`). */
function audio(ssrc: number, seq0: number, k: number, hz: number, sample = k * 160): Buffer {
  const out = new Uint8Array(160);
  ulaw.encode(tone(hz, 8000, 160, 8000, sample), out);
  return buildRtp({ payloadType: 0, ssrc, seq: (seq0 + k) & 0xffff, timestamp: (90_000 + k * 160) >>> 0, payload: Buffer.from(out) });
}

/** A flood's packets, one a call: each of a new SSRC with a random sequence number (a fixed sequence per seed), 600 Hz. */
function flood(seed: number): () => Buffer {
  let x = Math.floor(seed * 0x7fffffff) | 1;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return audio((x | 0x100000) >>> 0, x >>> 16, 0, 600);
  };
}

describe('a leg whose RTP carries more than one SSRC', () => {
  it('a second SSRC interleaved with the stream, one packet each, numbered in sequence: never taken, the stream plays whole', (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k++) {
      l.send(audio(0xa, 100, k, 1000));
      l.send(audio(0xb, 30000, k, 600));
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(100));
    assert.equal(l.leg.jitterStats.lost, 0, 'no frame concealed');
    assert.deepEqual(l.ssrcs, [0xa]);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation, l.stats.ssrcChanges], [100, 100, 0]);
  });

  it('a flood from the latched address, each packet a new SSRC, three between each two of the stream: the stream plays whole', (t) => {
    const l = leg(t);
    let ssrc = 0x1000;
    for (let k = 0; k < 100; k++) {
      l.send(audio(0xa, 65500, k, 1000)); // across the wrap
      for (let j = 0; j < 3; j++) l.send(audio(ssrc++, 7 * k + j, 0, 600));
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(100));
    assert.equal(l.leg.jitterStats.lost, 0);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation, l.stats.ssrcChanges], [100, 300, 0]);
  });

  it('a genuine change (the old stream stops, the new one goes on): every frame of both, none concealed', (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k++) {
      l.send(k < 50 ? audio(0xa, 100, k, 1000) : audio(0xb, 40000, k - 50, 1000, k * 160));
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(100));
    assert.equal(l.leg.jitterStats.lost, 0);
    assert.deepEqual(l.ssrcs, [0xa, 0xb]);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation, l.stats.ssrcChanges], [100, 0, 1]);
  });

  it('a genuine change while a stray packet of a third SSRC came just before it: the new stream still takes over, nothing of it lost', (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k++) {
      if (k === 50) l.send(audio(0xc, 5, 0, 600));
      l.send(k < 50 ? audio(0xa, 100, k, 1000) : audio(0xb, 40000, k - 50, 600));
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(50) + '6'.repeat(50));
    assert.deepEqual(l.ssrcs, [0xa, 0xb]);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation], [100, 1]);
  });

  // A flood of random SSRCs from the latched address (a forger, a broken SBC), each packet a new SSRC with a random
  // number, three between each two of the peer's, nonstop. With one SSRC on probation at a time each flood packet
  // replaced the genuine new stream's candidate, and it never took over; several on probation, it does within a few
  // packets. The place a new SSRC takes when none is free is chosen at random: each seed here is one fixed choice.
  for (const seed of [0.1, 0.37, 0.5, 0.77, 0.93]) {
    it(`a genuine change during a nonstop flood of new SSRCs: the new stream takes over within a few packets and plays whole after (seed ${seed})`, (t) => {
      mock.method(Math, 'random', () => seed);
      const l = leg(t);
      const next = flood(seed);
      for (let k = 0; k < 100; k++) {
        l.send(k < 50 ? audio(0xa, 100, k, 1000) : audio(0xb, 40000, k - 50, 1000, k * 160));
        for (let j = 0; j < 3; j++) l.send(next());
        l.tick();
      }
      const heard = l.heard();
      // The old stream whole; then the new one's first packets that a flood packet's candidate replaced lost (the
      // leg's last frame concealed once, then silence), at most 4; then every frame of the new stream: never the flood's.
      const m = /^1{50}([-.]*)(1+)$/.exec(heard);
      assert.ok(m, heard);
      assert.ok(m[1].length <= 4 && m[2].length === 50 - m[1].length, heard);
      assert.deepEqual(l.ssrcs, [0xa, 0xb]);
      assert.equal(l.stats.packetsIn, 100 - m[1].length);
    });
  }

  for (const seed of [0.1, 0.5, 0.93]) {
    it(`a flood of new SSRCs that starts before the peer's first packet does not decide the stream: the peer's does, within a few packets (seed ${seed})`, (t) => {
      mock.method(Math, 'random', () => seed);
      const l = leg(t);
      const next = flood(seed);
      for (let k = 0; k < 120; k++) {
        if (k >= 20) l.send(audio(0xa, 100, k - 20, 1000));
        for (let j = 0; j < 3; j++) l.send(next());
        l.tick();
      }
      const heard = l.heard();
      // The flood never plays; the stream from its first or second packet (or so) to its last, every frame.
      assert.match(heard, /^1+$/);
      assert.ok(heard.length >= 96, heard);
      assert.deepEqual(l.ssrcs, [0xa]);
      assert.equal(l.stats.packetsIn, heard.length);
    });
  }

  it('a network that swaps each pair of packets, the first two too: the first stream is taken (its first two are in sequence, swapped), every frame plays', (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k += 2) {
      l.send(audio(0xa, 100, k + 1, 1000));
      l.send(audio(0xa, 100, k, 1000));
      l.tick();
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(100));
    assert.deepEqual(l.ssrcs, [0xa]);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation], [100, 0]);
  });

  // A packet of the old stream that the network held back past the change (it comes after the new stream took over):
  // dropped as another SSRC on probation, its frame was concealed. Numbered before the old stream's newest, it plays
  // in its place when the jitter buffer has not played past it, and is counted late there when it has.
  it('a genuine change, a packet of the old stream held back past it while the jitter buffer can still place it: it plays in its place, every frame of both, none concealed', (t) => {
    const l = leg(t, 80);
    for (let k = 0; k < 100; k++) {
      if (k !== 48) l.send(k < 50 ? audio(0xa, 100, k, 1000) : audio(0xb, 40000, k - 50, 600));
      // (The new stream took over at its second packet, 51.)
      if (k === 51) l.send(audio(0xa, 100, 48, 1000));
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(50) + '6'.repeat(50));
    assert.equal(l.leg.jitterStats.lost, 0, 'no frame concealed');
    assert.deepEqual(l.ssrcs, [0xa, 0xb]);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation], [100, 0]);
  });

  it('a packet of the old stream held back past the change and past its play: counted late by the jitter buffer (not as another SSRC), its frame concealed once', (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k++) {
      if (k !== 48) l.send(k < 50 ? audio(0xa, 100, k, 1000) : audio(0xb, 40000, k - 50, 600));
      if (k === 51) l.send(audio(0xa, 100, 48, 1000));
      l.tick();
    }
    // (The frame lost is concealed by the decoder's PLC: not the tone at its level.)
    assert.match(l.heard(), /^1{48}[-.]16{50}$/);
    assert.deepEqual([l.leg.jitterStats.lost, l.leg.jitterStats.late], [1, 1]);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation], [100, 0]);
  });

  it('the old stream going on after the change (numbered after its newest): on probation, never taken while the new one goes on', (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k++) {
      l.send(k < 50 ? audio(0xa, 100, k, 1000) : audio(0xb, 40000, k - 50, 600));
      if (k >= 52 && k % 3 === 0) l.send(audio(0xa, 100, k, 1000));
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(50) + '6'.repeat(50));
    assert.deepEqual(l.ssrcs, [0xa, 0xb]);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation], [100, 16]);
  });

  it("a gateway's telephone-events from an SSRC of their own: the digit is taken, the stream plays whole and keeps its SSRC", (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k++) {
      l.send(audio(0xa, 100, k, 1000));
      if (k >= 40 && k < 46) {
        const end = k >= 43;
        l.send(buildRtp({ payloadType: 101, marker: k === 40, ssrc: 0xe, seq: 500 + k, timestamp: 4000, payload: dtmfPayload('5', end, Math.min(k - 39, 4) * 160) }));
      }
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(100));
    assert.deepEqual(l.digits, ['5']);
    assert.deepEqual(l.ssrcs, [0xa]);
    assert.deepEqual([l.stats.ssrcProbation, l.stats.ssrcChanges], [0, 0]);
  });

  it('the peer comes back after a silence from another address (NAT rebinding) with a new SSRC: the source latch and the SSRC probation hold its first packets, all play', (t) => {
    const l = leg(t);
    for (let k = 0; k < 50; k++) {
      l.send(audio(0xa, 100, k, 1000));
      l.tick();
    }
    l.skip(2100);
    const moved = { ...PEER, address: '127.0.0.9', port: 5000 };
    for (let k = 0; k < 50; k++) {
      l.send(audio(0xb, 9000, k, 600), moved);
      l.tick();
    }
    // Between them the old stream's end: its last frame concealed once, then silence.
    assert.equal(l.heard().replace(/[-.]+/, ' '), '1'.repeat(50) + ' ' + '6'.repeat(50));
    assert.deepEqual(l.ssrcs, [0xa, 0xb]);
    assert.deepEqual([l.stats.packetsIn, l.stats.ssrcProbation, l.stats.wrongSource], [100, 0, 0]);
  });
});

describe('a leg latched to a peer behind NAT (packets from another address than its SDP)', () => {
  const NAT = { ...PEER, address: '127.0.0.9', port: 5000 };

  it('a packet now and then from the signalled address (anyone can send from it) does not take the leg from the peer', (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k++) {
      l.send(audio(0xa, 100, k, 1000), NAT);
      if (k % 10 === 5) l.send(audio(0xf00 + k, 7, 0, 600));
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(100));
    assert.deepEqual(l.latchedTo, ['127.0.0.9:5000']);
    assert.deepEqual([l.stats.packetsIn, l.stats.wrongSource], [100, 10]);
  });

  it('the peer moving to its signalled address takes the leg back: every frame plays', (t) => {
    const l = leg(t);
    for (let k = 0; k < 100; k++) {
      l.send(audio(0xa, 100, k, 1000), k < 50 ? NAT : PEER);
      l.tick();
    }
    assert.equal(l.heard(), '1'.repeat(100));
    assert.deepEqual(l.latchedTo, ['127.0.0.9:5000', '127.0.0.1:4000']);
    assert.deepEqual([l.stats.packetsIn, l.stats.wrongSource], [100, 0]);
  });
});

// RFC 6263 §4.6 keep-alives: an empty packet of a payload type not negotiated, in the stream's SSRC and numbering.
// The endpoint drops them (RFC 3550 §5.1, counted `unexpected_pt`); dropped there, each left a hole in the numbering
// the jitter buffer concealed as a lost frame. Now the mixer is given the number to play over.
describe('RFC 6263 keep-alives of a payload type not negotiated, through the endpoint', () => {
  for (const order of ['in order', 'each overtaken by the packet after it'] as const) {
    it(`a keep-alive after every 4th packet of the stream, ${order}: every frame plays at its level, none concealed; counted unexpected_pt, not played`, (t) => {
      const l = leg(t);
      let seq = 65500; // across the wrap
      let late: Buffer | null = null;
      for (let k = 0; k < 100; k++) {
        l.send(withSeq(audio(0xa, 0, k, 1000), seq++));
        if (late) l.send(late);
        late = null;
        if (k % 4 === 3) {
          const ka = buildRtp({ payloadType: 20, ssrc: 0xa, seq: seq++ & 0xffff, timestamp: 90_000 + (k + 1) * 160, payload: Buffer.alloc(0) });
          if (order === 'in order') l.send(ka);
          else late = ka;
        }
        // Another SSRC's keep-alive (not the stream's numbering) changes nothing.
        if (k % 10 === 5) l.send(buildRtp({ payloadType: 20, ssrc: 0xc, seq: k, timestamp: 0, payload: Buffer.alloc(0) }));
        l.tick();
      }
      if (late) l.send(late);
      assert.equal(l.heard(), '1'.repeat(100));
      assert.equal(l.leg.jitterStats.lost, 0, 'no frame concealed');
      assert.deepEqual([l.stats.packetsIn, l.stats.unexpectedPt], [100, 25 + 10]);
    });
  }
});

/** `pkt` with sequence number `seq`. */
function withSeq(pkt: Buffer, seq: number): Buffer {
  pkt.writeUInt16BE(seq & 0xffff, 2);
  return pkt;
}

// Receiver statistics of RTCP (RFC 3550 A.1, A.3, A.8) through RtcpSession:
// sequence wrap, reordering, duplicates, loss, fraction lost, jitter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtcpSession } from '../../../src/media-plane/rtcp/index.ts';

const PEER = 0x5eed5eed;

function session(clockRate = 8000): RtcpSession {
  return new RtcpSession({ localSsrc: 7, cname: 'rx@test', clockRate });
}

/** Delivers seqs (mod 2^16) of a 20 ms / 8 kHz stream in the order given, each on time. */
function deliver(s: RtcpSession, seqs: number[], ssrc = PEER): void {
  for (const ext of seqs) s.onRtpReceived(ssrc, ext & 0xffff, (ext * 160) >>> 0, ext * 20);
}

/** Fields of the report block in a report built now (RR, or SR when we sent). */
function block(b: Buffer): { fraction: number; lost: number; extSeq: number; jitter: number } {
  const o = b[1] === 200 ? 28 : 8;
  return { fraction: b[o + 4], lost: b.readIntBE(o + 5, 3), extSeq: b.readUInt32BE(o + 8), jitter: b.readUInt32BE(o + 12) };
}

describe('RTCP receiver statistics (RFC 3550 A.1, A.3)', () => {
  it('loss and reordering across a sequence wrap give the exact cumulative loss', () => {
    const s = session();
    // 65530 … 65535, 0 … 9 (16 packets, extended 65530 … 65545). Lost: 65534, 3, 8.
    // Reordered: 65533 before 65532; 0 before 65535 (late across the wrap); 2 before 1;
    // 65531 after 4 (late by 9, across the wrap). 5 arrives twice.
    const order = [65530, 65533, 65532, 65536, 65535, 65538, 65537, 65540, 65531, 65541, 65542, 65541, 65543, 65545];
    deliver(s, order);
    const st = s.stats;
    assert.equal(st.packetsReceived, 14);
    assert.equal(st.packetsExpected, 16);
    assert.equal(st.cumulativeLost, 3 /* 65534, 3, 8 */ - 1 /* 5 counted twice (A.3) */);
    const b = block(s.buildReport(1000));
    assert.equal(b.extSeq, 0x10000 + 9, 'one cycle, highest 9');
    assert.equal(b.lost, 2);
  });

  it('without duplicates, loss is exactly the missing numbers (3 of 16)', () => {
    const s = session();
    const all = Array.from({ length: 16 }, (_, i) => 65530 + i).filter((x) => ![65534, 65539, 65544].includes(x));
    // Swap neighbours pairwise after the first two (A.1 takes the first packet as base_seq):
    // every other packet arrives late, 65535 after 0 across the wrap.
    for (let i = 2; i + 1 < all.length; i += 2) [all[i], all[i + 1]] = [all[i + 1], all[i]];
    deliver(s, all);
    assert.equal(s.stats.cumulativeLost, 3);
    assert.equal(s.stats.packetsExpected, 16);
    assert.equal(block(s.buildReport(1000)).fraction, Math.floor((3 * 256) / 16));
  });

  it('many wraps: 200,000 packets with every 100th lost', () => {
    const s = session();
    const start = 60000;
    for (let i = 0; i < 200_000; i++) if (i % 100 !== 50) deliver(s, [start + i]);
    assert.equal(s.stats.cumulativeLost, 2000);
    assert.equal(block(s.buildReport(0)).extSeq, (start + 199_999) >>> 0);
  });

  it('fraction lost covers the last interval only (A.3)', () => {
    const s = session();
    deliver(s, [100, 101, 102, 103]); // first interval: nothing lost
    assert.equal(block(s.buildReport(100)).fraction, 0);
    deliver(s, [104, 106, 108, 109]); // 6 expected, 4 received
    assert.equal(block(s.buildReport(200)).fraction, Math.floor((2 * 256) / 6));
    assert.equal(s.stats.fractionLost, Math.floor((2 * 256) / 6) / 256);
    deliver(s, [110, 111]);
    const third = block(s.buildReport(300));
    assert.equal(third.fraction, 0);
    assert.equal(third.lost, 2, 'cumulative keeps the earlier loss');
  });

  it('a single wild jump is ignored; two in sequence restart the numbering (A.1 bad_seq)', () => {
    const s = session();
    deliver(s, [1000, 1001, 1002]);
    deliver(s, [30000]); // > MAX_DROPOUT ahead: ignored
    assert.equal(s.stats.packetsReceived, 3);
    deliver(s, [1003]);
    assert.equal(s.stats.packetsReceived, 4);
    assert.equal(s.stats.cumulativeLost, 0);
    deliver(s, [40000, 40001, 40002]); // the sender restarted: 40001 confirms it
    assert.equal(s.stats.packetsReceived, 2, 'counting restarts at the confirming packet');
    assert.equal(s.stats.packetsExpected, 2);
    assert.equal(block(s.buildReport(0)).extSeq, 40002);
  });

  it('a new SSRC restarts the statistics', () => {
    const s = session();
    deliver(s, [10, 12, 14]);
    assert.equal(s.stats.cumulativeLost, 2);
    deliver(s, [500, 501], 0x0badf00d);
    const st = s.stats;
    assert.equal(st.packetsReceived, 2);
    assert.equal(st.cumulativeLost, 0);
    const b = s.buildReport(0);
    assert.equal(b.readUInt32BE(8), 0x0badf00d, 'the block is about the new source');
  });
});

describe('RTCP interarrival jitter (RFC 3550 A.8)', () => {
  /** 20 ms packets whose network delay alternates between 0 and extraMs. */
  function alternating(clockRate: number, extraMs: number, n: number, tsStart = 1234): RtcpSession {
    const s = session(clockRate);
    const step = (clockRate * 20) / 1000;
    for (let i = 0; i < n; i++) s.onRtpReceived(PEER, i, (tsStart + i * step) >>> 0, 5000 + i * 20 + (i % 2 ? extraMs : 0));
    return s;
  }

  it('converges to the alternating delay: |D| is 10 ms on every packet → J = 10 ms', () => {
    for (const rate of [8000, 16000, 48000]) {
      const s = alternating(rate, 10, 300);
      assert.ok(Math.abs(s.stats.jitterMs - 10) < 1e-3, `${rate} Hz: ${s.stats.jitterMs}`);
      assert.equal(block(s.buildReport(0)).jitter, Math.floor((10 * rate) / 1000) - 1, 'reported in timestamp units, floored');
    }
  });

  it('follows the 1/16 gain: after the first difference J = |D|/16', () => {
    const s = alternating(8000, 10, 2);
    assert.ok(Math.abs(s.stats.jitterMs - 10 / 16) < 1e-9, String(s.stats.jitterMs));
  });

  it('is zero for a constant delay, across an RTP timestamp wrap', () => {
    const s = session();
    const ts0 = 2 ** 32 - 160 * 50;
    for (let i = 0; i < 100; i++) s.onRtpReceived(PEER, i, (ts0 + i * 160) >>> 0, 777 + i * 20);
    assert.equal(s.stats.jitterMs, 0);
  });

  it('keeps its meaning in ms when the clock rate changes', () => {
    const s = alternating(8000, 10, 300);
    s.setClockRate(48000);
    assert.ok(Math.abs(s.stats.jitterMs - 10) < 1e-3, String(s.stats.jitterMs));
  });
});

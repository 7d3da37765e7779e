// Two RtcpSessions talking over a simulated path: RTT from LSR/DLSR (RFC 3550
// §6.4.1), what each learns about its own stream, SSRC changes, the report
// interval (§6.2), a fuzz of the parser, and the per-packet calls allocating nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { RtcpSession } from '../../../src/media-plane/rtcp/index.ts';

const A = 0xa0a0a0a0;
const B = 0x0b0b0b0b;

function pair(): { a: RtcpSession; b: RtcpSession } {
  return {
    a: new RtcpSession({ localSsrc: A, cname: 'a@test', clockRate: 8000 }),
    b: new RtcpSession({ localSsrc: B, cname: 'b@test', clockRate: 8000 }),
  };
}

/**
 * from sends 20 ms packets to `to` for durationMs starting at t0 on from's clock; to's
 * clock reads skewMs more, the path takes delayMs, and the seqs in `lose` never arrive.
 */
function stream(from: RtcpSession, fromSsrc: number, to: RtcpSession, t0: number, n: number, opts: { delayMs: number; skewMs?: number; seq0?: number; lose?: Set<number> }): void {
  for (let i = 0; i < n; i++) {
    const seq = (opts.seq0 ?? 0) + i;
    const ts = 320 + seq * 160;
    from.onRtpSent(160, ts, t0 + i * 20);
    if (!opts.lose?.has(seq)) to.onRtpReceived(fromSsrc, seq & 0xffff, ts, t0 + i * 20 + opts.delayMs + (opts.skewMs ?? 0));
  }
}

describe('RtcpSession between two peers', () => {
  it('RTT from an SR/RR exchange equals twice the one-way delay, whatever the other clock says', () => {
    for (const [delayMs, skewMs, holdMs] of [[37, 0, 1234], [5, 4_000_000, 3], [150, -900, 4999.5]]) {
      const { a, b } = pair();
      stream(a, A, b, 1000, 50, { delayMs, skewMs });
      const sr = a.buildReport(2000);
      assert.equal(sr[1], 200, 'A sent RTP: SR');
      assert.equal(b.handleRtcp(sr, 2000 + delayMs + skewMs), true);
      // B holds the SR for holdMs (DLSR) before its RR goes out.
      const rr = b.buildReport(2000 + delayMs + skewMs + holdMs);
      assert.equal(rr[1], 201, 'B sent nothing: RR');
      assert.equal(a.handleRtcp(rr, 2000 + 2 * delayMs + holdMs), true);
      const rtt = a.stats.rttMs;
      assert.ok(rtt !== null && Math.abs(rtt - 2 * delayMs) < 0.1, `delay ${delayMs}: rtt ${rtt}`);
      assert.equal(b.stats.rttMs, null, 'B sent no SR, so no block can carry its LSR');
    }
  });

  it('both directions: each side learns the RTT and what the other measured of its stream', () => {
    const { a, b } = pair();
    const delayMs = 20;
    stream(a, A, b, 0, 100, { delayMs, lose: new Set([10, 11, 50]) });
    stream(b, B, a, 0, 100, { delayMs, seq0: 65500 });
    // A reports first; B answers with an SR that carries A's LSR; A's next report carries B's.
    assert.equal(b.handleRtcp(a.buildReport(2000), 2000 + delayMs), true);
    assert.equal(a.handleRtcp(b.buildReport(2500), 2500 + delayMs), true);
    assert.equal(b.handleRtcp(a.buildReport(3000), 3000 + delayMs), true);
    const sa = a.stats;
    const sb = b.stats;
    assert.ok(sa.rttMs !== null && Math.abs(sa.rttMs - 2 * delayMs) < 0.1, `A rtt ${sa.rttMs}`);
    assert.ok(sb.rttMs !== null && Math.abs(sb.rttMs - 2 * delayMs) < 0.1, `B rtt ${sb.rttMs}`);
    assert.equal(sb.cumulativeLost, 3);
    assert.deepEqual(sa.remote, { fractionLost: Math.floor((3 * 256) / 100) / 256, cumulativeLost: 3, jitterMs: 0 });
    assert.equal(sa.cumulativeLost, 0, 'B to A lost nothing, across a sequence wrap');
    assert.deepEqual(sb.remote, { fractionLost: 0, cumulativeLost: 0, jitterMs: 0 });
    assert.deepEqual([sa.packetsSent, sa.octetsSent, sa.reportsSent, sa.reportsReceived], [100, 16000, 2, 1]);
    assert.deepEqual([sb.packetsReceived, sb.packetsExpected, sb.reportsSent, sb.reportsReceived], [97, 100, 1, 2]);
  });

  it('SR only when RTP went out since the last report; a peer SR then RR both count', () => {
    const { a, b } = pair();
    stream(a, A, b, 0, 5, { delayMs: 1 });
    assert.equal(a.buildReport(200)[1], 200);
    assert.equal(a.buildReport(5200)[1], 201);
    a.onRtpSent(160, 9999, 5300);
    const sr = a.buildReport(10200);
    assert.equal(sr[1], 200);
    assert.equal(sr.readUInt32BE(20), 6, 'packet count keeps counting for the same SSRC');
  });

  it('a new local SSRC restarts the SR counts and forgets the peer report about the old one', () => {
    const { a, b } = pair();
    stream(a, A, b, 0, 10, { delayMs: 1 });
    assert.equal(b.handleRtcp(a.buildReport(300), 301), true);
    assert.equal(a.handleRtcp(b.buildReport(400), 401), true);
    assert.notEqual(a.stats.remote, null);
    a.setLocalSsrc(0x12345678);
    assert.equal(a.stats.remote, null);
    a.onRtpSent(100, 5, 500);
    const sr = a.buildReport(600);
    assert.equal(sr.readUInt32BE(4), 0x12345678);
    assert.equal(sr.readUInt32BE(20), 1, 'SR packet count of the new SSRC');
    assert.equal(sr.readUInt32BE(24), 100);
    assert.deepEqual([a.stats.packetsSent, a.stats.octetsSent], [11, 1700], 'the leg totals go on');
    // B's old block is about A, no longer us: ignored.
    assert.equal(a.handleRtcp(b.buildReport(700), 701), true);
    assert.equal(a.stats.remote, null);
  });

  it('BYE compound parses at the peer and carries the final report', () => {
    const { a, b } = pair();
    stream(a, A, b, 0, 10, { delayMs: 1 });
    stream(b, B, a, 0, 10, { delayMs: 1, lose: new Set([4]) });
    const bye = a.buildBye(300);
    assert.equal(bye[bye.length - 7], 203);
    assert.equal(b.handleRtcp(bye, 301), true);
    assert.equal(b.stats.remote?.cumulativeLost, 1);
  });

  it('report interval: 5 s nominal randomized 0.5–1.5, the first one after half (§6.2)', () => {
    const first: number[] = [];
    const later: number[] = [];
    for (let i = 0; i < 200; i++) {
      const s = new RtcpSession({ localSsrc: i, cname: 'i', clockRate: 8000 });
      first.push(s.nextIntervalMs());
      for (let k = 0; k < 10; k++) later.push(s.nextIntervalMs());
    }
    assert.ok(first.every((x) => x >= 1250 && x <= 3750));
    assert.ok(later.every((x) => x >= 2500 && x <= 7500));
    const mean = later.reduce((x, y) => x + y, 0) / later.length;
    assert.ok(Math.abs(mean - 5000) < 150, `mean ${mean}`);
    assert.ok(Math.min(...later) < 2800 && Math.max(...later) > 7200, 'spread over the whole range');
  });
});

describe('RtcpSession.handleRtcp fuzz', () => {
  it('random and mutated buffers never throw; a false leaves the stats as they were', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const { a, b } = pair();
    stream(a, A, b, 0, 50, { delayMs: 3 });
    stream(b, B, a, 0, 50, { delayMs: 3 });
    const valid = Buffer.concat([b.buildBye(1000), Buffer.from('80cc0002aabbccdd6e616d65', 'hex')]);
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      let p: Buffer;
      if (i % 2 === 0) {
        p = Buffer.alloc(rand(120));
        for (let k = 0; k < p.length; k++) p[k] = rand(256);
        if (i % 4 === 0 && p.length > 1) p[0] = 0x80 | (p[0] & 0x3f); // version 2 more often
        if (i % 8 === 0 && p.length > 1) p[1] = 200 + rand(24);
      } else {
        p = Buffer.from(valid.subarray(0, valid.length - (i % 3 === 0 ? rand(valid.length) : 0)));
        for (let k = rand(4); k > 0; k--) p[rand(p.length || 1)] = rand(256);
      }
      const before = a.stats;
      let ok: boolean;
      try {
        ok = a.handleRtcp(p, 2000 + i);
      } catch (err) {
        assert.fail(`case ${i}: ${p.toString('hex')} threw ${String(err)}`);
      }
      if (ok) accepted++;
      else assert.deepEqual(a.stats, before, `case ${i}: ${p.toString('hex')}`);
    }
    assert.ok(accepted > 50 && accepted < 4000, `accepted ${accepted}: both branches exercised`);
  });
});

describe('RtcpSession hot path', () => {
  it('onRtpReceived and onRtpSent allocate nothing (no young-generation GC over 2M calls)', async () => {
    const s = new RtcpSession({ localSsrc: 0xfedcba98, cname: 'hot', clockRate: 48000 });
    // Small-integer arguments: the loop itself allocates nothing even before it is optimized.
    const run = (from: number, n: number): void => {
      for (let i = from; i < from + n; i++) {
        s.onRtpReceived(0xdeadbeef, i & 0xffff, (i * 960) % 0x20000000, i * 20 + (i & 3));
        s.onRtpSent(100 + (i & 63), (i * 960) % 0x20000000, i * 20);
      }
    };
    // Warm up: many calls of run() so that it (not only an on-stack-replaced loop) is
    // optimized; interpreted code boxes doubles, which is not what this test is about.
    for (let k = 0; k < 40; k++) run(k * 10_000, 10_000);
    const gcs: number[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcs.push(e.startTime);
    });
    obs.observe({ entryTypes: ['gc'] });
    const newSpace = (): number => v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_used_size ?? 0;
    // A loaded machine may still be compiling when the first window starts: best of three.
    const windows: { t0: number; t1: number; grew: number }[] = [];
    let from = 400_000;
    for (let w = 0; w < 3; w++, from += 1_000_000) {
      const t0 = performance.now();
      const used0 = newSpace();
      run(from, 1_000_000);
      const grew = newSpace() - used0;
      windows.push({ t0, t1: performance.now(), grew });
    }
    await new Promise((r) => setTimeout(r, 50)); // gc entries are delivered asynchronously
    obs.disconnect();
    const results = windows.map((w) => ({ grew: w.grew, gcs: gcs.filter((t) => t >= w.t0 && t <= w.t1).length }));
    // 2M calls allocating even 16 bytes each would be 32 MB: several scavenges in every window.
    assert.ok(
      results.some((r) => r.gcs === 0 && r.grew < 64 * 1024),
      `every window allocated: ${JSON.stringify(results)}`,
    );
    assert.equal(s.stats.packetsReceived, 3_400_000);
  });
});

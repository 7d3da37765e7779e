// bench:calls arithmetic: SIPp's log lines → per-call times, percentiles, the peak
// of calls held at once, and Prometheus text → sums.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sippErrorSummary } from '../../../bench/lib/call-load.ts';
import { durations, parseCallTimes, peakOverlap, percentile, spread } from '../../../bench/lib/call-timing.ts';
import { parseMetrics } from '../../../bench/lib/parley-server.ts';

describe('bench:calls timing', () => {
  it('matches the callee INVITE to the caller by its From user and keeps the first of repeated lines', () => {
    const caller = [
      'invite;1;1700000000.000000;0.000000',
      'early;1;1700000000.000000;12000.000000',
      'early;1;1700000000.000000;500000.000000',
      'answered;1;1700000000.000000;320000.000000',
      'bye;1;1700000005.000000;320000.000000',
      'invite;2;1700000000.000000;100000.000000',
      'garbage line',
    ].join('\n');
    const callee = 'callee;bench-1;1700000000.000000;310500.000000\n';
    const calls = parseCallTimes(caller, callee);
    assert.equal(calls.size, 2);
    const one = calls.get(1)!;
    assert.equal(one.early! - one.invite!, 12);
    assert.equal(one.callee! - one.invite!, 310.5);
    assert.deepEqual(durations(calls, 'invite', 'answered'), [320]);
    assert.equal(calls.get(2)!.answered, undefined);
  });

  it('nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(v, 50), 50);
    assert.equal(percentile(v, 99), 99);
    assert.equal(percentile([], 50), null);
    assert.deepEqual(spread([3, 1, 2]), { n: 3, p50: 2, p99: 3, max: 3 });
  });

  it('the peak of intervals open at once; touching intervals do not overlap', () => {
    assert.equal(peakOverlap([[0, 10], [5, 15], [10, 20], [12, 13]]), 3);
    assert.equal(peakOverlap([[0, 1], [1, 2], [2, 3]]), 1);
    assert.equal(peakOverlap([]), 0);
  });

  it('sums a metric over its labels', () => {
    const m = parseMetrics('# HELP x\nparley_calls_active 3\nparley_legs{room="a"} 2\nparley_legs{room="b"} 4\n');
    assert.equal(m.get('parley_calls_active'), 3);
    assert.equal(m.get('parley_legs'), 6);
  });
});

describe('SIPp error log summary', () => {
  it('counts entries by kind, without Call-IDs or quoted messages, and counts "Dead call" notes apart', () => {
    const entry = (id: string, what: string): string =>
      `2026-12-02\t13:59:44.243714\t1796219984.243714: Aborting call on unexpected message for Call-Id '${id}': while expecting 'ACK' (index 3), received '${what}\r\nVia: SIP/2.0/UDP 127.0.0.1:37161\r\n\r\nv=0\r\n'`;
    const log = 'The following events occurred:\n' + entry('a-1', 'INVITE sip:bob@127.0.0.1:38591 SIP/2.0') + entry('b-2', 'INVITE sip:bob@127.0.0.1:38591 SIP/2.0') +
      "2026-12-02\t13:59:45.1\t1796219985.1: Dead call c-3 (successful), received 'BYE sip:callee@127.0.0.1 SIP/2.0\r\n'";
    assert.equal(sippErrorSummary(log), "2× Aborting call on unexpected message for Call-Id …: while expecting 'ACK' (index 3), received 'INVITE sip:bob@127.0.0.1:38591 …' | 1× a message for a call SIPp had already ended (\"Dead call\")");
    assert.equal(sippErrorSummary(''), '');
  });
});

// The jitter buffer finds packets by sequence number through a ring indexed by
// its low bits: packets still play in sequence order whatever order they came
// in, duplicates are refused, the sequence wraps from 65535 to 0, and packets a
// multiple of the ring's size apart (a sender's jump) are all kept and found.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JitterBuffer, LOST } from '../../../src/mixer/jitter-buffer.ts';

const PAYLOAD = new Uint8Array(160);

/** Pops `ticks` times (`waitForGap`: JitterBuffer.pop's): 'seq:ts' for a packet, 'L' for a lost one, '.' for nothing. */
function popMany(jb: JitterBuffer, ticks: number, waitForGap = false): string[] {
  const out: string[] = [];
  for (let i = 0; i < ticks; i++) {
    const s = jb.pop(waitForGap);
    out.push(s === null ? '.' : s === LOST ? 'L' : `${s.seq}:${s.timestamp}`);
  }
  return out;
}

/** A deterministic shuffle (a linear congruential generator), so a failure repeats. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  let x = seed;
  for (let i = a.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('jitter buffer ordering (ring indexed by sequence number)', () => {
  it('record-only, 1 s: a window reordered and sent twice across the 65535 → 0 wrap plays once, in order, timestamps contiguous', () => {
    const jb = new JitterBuffer(1000, 1000, 8000, true);
    const first = 65_510;
    const seqs = Array.from({ length: 80 }, (_, i) => (first + i) & 0xffff); // 65510..65535, 0..53
    const order = shuffled([...seqs, ...seqs.slice(10, 40)], 7);
    let accepted = 0;
    for (const seq of order) {
      const ts = (0xfffff000 + ((seq - first) & 0xffff) * 160) >>> 0; // the timestamp wraps too
      if (jb.push(seq, ts, 0, PAYLOAD, 0)) accepted++;
    }
    assert.equal(accepted, 80);
    assert.equal(jb.stats.duplicates, 30);
    assert.equal(jb.depth, 80);
    jb.drain();
    const played = popMany(jb, 90).filter((x) => x !== '.');
    assert.deepEqual(played, seqs.map((seq, i) => `${seq}:${(0xfffff000 + i * 160) >>> 0}`));
    assert.equal(jb.stats.lost + jb.stats.late + jb.stats.overflow, 0);
    assert.equal(jb.depth, 0);
  });

  it('packets a multiple of the ring size apart are all held, each found, a repeat of either refused', () => {
    // 1 s at 20 ms: 103 slots, a ring of 256: seq n and n + 256 share a ring entry.
    const jb = new JitterBuffer(1000, 1000, 8000, true);
    for (let i = 0; i < 30; i++) assert.ok(jb.push(i, i * 160, 0, PAYLOAD, 0));
    for (let i = 0; i < 30; i++) assert.ok(jb.push(256 + i, (30 + i) * 160, 0, PAYLOAD, 0), `seq ${256 + i} kept beside seq ${i}`);
    assert.equal(jb.push(5, 5 * 160, 0, PAYLOAD, 0), false);
    assert.equal(jb.push(261, 35 * 160, 0, PAYLOAD, 0), false);
    assert.equal(jb.stats.duplicates, 2);
    assert.equal(jb.depth, 60);
    // Play: 0..29, then the jump (226 ahead, more than the buffer holds) is a resync to 256..285.
    const played = popMany(jb, 60);
    assert.deepEqual(played, [...Array.from({ length: 30 }, (_, i) => `${i}:${i * 160}`), ...Array.from({ length: 30 }, (_, i) => `${256 + i}:${(30 + i) * 160}`)]);
    assert.equal(jb.stats.lost, 0);
  });

  it('mixing buffer: a missing packet across the wrap is LOST in its place, a late copy of it is refused', () => {
    const jb = new JitterBuffer(60, 100, 8000); // plays from 3 packets deep
    const push = (seq: number, i: number): boolean => jb.push(seq, ((seq + 3) & 0xffff) * 160, 0, PAYLOAD, i * 20);
    [65_533, 65_535, 65_534].forEach(push);
    const out = popMany(jb, 1);
    [1, 2, 3].forEach((seq, i) => { // 0 never comes
      push(seq, 3 + i);
      out.push(...popMany(jb, 1));
    });
    out.push(...popMany(jb, 3));
    assert.deepEqual(out, ['65533:0', '65534:160', '65535:320', 'L', '1:640', '2:800', '3:960']);
    assert.equal(jb.stats.lost, 1);
    assert.equal(jb.push(0, 480, 0, PAYLOAD, 200), false, 'seq 0 after its turn is late');
    assert.equal(jb.stats.late, 1);
  });

  it('waiting for a gap: a missing packet with a later one here is waited for one tick; one that comes then plays in its place, one that does not is LOST', () => {
    const jb = new JitterBuffer(20, 100, 8000);
    const push = (seq: number): boolean => jb.push(seq, seq * 160, 0, PAYLOAD, seq * 20);
    push(10);
    const out = popMany(jb, 1, true);
    push(12); // 11 was overtaken: it comes after the next tick
    out.push(...popMany(jb, 1, true));
    push(11);
    out.push(...popMany(jb, 2, true));
    push(14); // 13 never comes
    out.push(...popMany(jb, 3, true));
    assert.deepEqual(out, ['10:1600', '.', '11:1760', '12:1920', '.', 'L', '14:2240']);
    assert.deepEqual([jb.stats.lost, jb.stats.late, jb.stats.underruns], [1, 0, 0]);
  });
});

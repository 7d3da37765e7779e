// A listener that asked for packets of other than 20 ms (a=ptime) gets the mixer's frames
// gathered into packets of that length, each stamped with its first byte's timestamp.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtpOutput } from '../../../src/mixer/rtp-output.ts';

interface Sent {
  seq: number;
  ts: number;
  marker: boolean;
  bytes: number[];
}

function harness(packetMs: number) {
  const sent: Sent[] = [];
  const out = new RtpOutput(
    (p) => {
      sent.push({ seq: p.readUInt16BE(2), ts: p.readUInt32BE(4), marker: (p[1] & 0x80) !== 0, bytes: [...p.subarray(12)] });
      return false;
    },
    0,
    1234,
    8000,
    packetMs,
  );
  let k = 0;
  /** The mixer's frame for the tick at `tickMs`: 160 bytes, byte i of frame k = (k * 160 + i) & 0xff. */
  const frame = (tickMs: number): void => {
    out.sendFrame(new Uint8Array(160).map((_, i) => (k * 160 + i) & 0xff), tickMs);
    k++;
  };
  return { sent, frame };
}

describe('RtpOutput packets of other than 20 ms', () => {
  for (const ms of [10, 30, 40, 60]) {
    it(`${ms} ms: whole packets, consecutive numbers, timestamps a packet apart, the bytes in order`, () => {
      const { sent, frame } = harness(ms);
      for (let t = 0; t < 12 * 20; t += 20) frame(t);
      assert.equal(sent.length, (12 * 20) / ms);
      const all = sent.flatMap((s) => s.bytes);
      assert.ok(all.every((b, i) => b === (i & 0xff)), 'the bytes of the frames, in order');
      sent.forEach((s, i) => {
        assert.equal(s.bytes.length, ms * 8);
        assert.equal(s.seq, (sent[0]!.seq + i) & 0xffff);
        assert.equal(s.ts, (sent[0]!.ts + i * ms * 8) >>> 0);
      });
      assert.equal(sent[0]!.marker, true);
      assert.ok(sent.slice(1).every((s) => !s.marker));
    });
  }

  it('a gap (hold, skipped ticks): what was gathered goes out short, then the next talkspurt starts with the marker', () => {
    const { sent, frame } = harness(30);
    frame(0);
    frame(20); // 240 sent, 80 wait
    frame(100); // 3 ticks skipped
    assert.equal(sent.length, 2);
    assert.equal(sent[1]!.bytes.length, 80);
    assert.equal(sent[1]!.ts, (sent[0]!.ts + 240) >>> 0);
    frame(120);
    assert.equal(sent.length, 3);
    assert.equal(sent[2]!.marker, true);
    assert.equal(sent[2]!.bytes.length, 240);
    assert.equal(sent[2]!.ts, (sent[0]!.ts + 160 * 5) >>> 0, 'timestamps follow room time');
  });

  it('20 ms: one packet per frame, as before', () => {
    const { sent, frame } = harness(20);
    for (let t = 0; t < 100; t += 20) frame(t);
    assert.equal(sent.length, 5);
    assert.ok(sent.every((s) => s.bytes.length === 160));
  });
});

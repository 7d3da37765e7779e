// RTCP bytes: our SR/RR/SDES/BYE field by field against RFC 3550 §6.4–§6.6,
// the peer's hand-built packets read back, and what is not RTCP rejected.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { isRtcp, RtcpSession } from '../../../src/media-plane/rtcp/index.ts';

const US = 0x11223344;
const PEER = 0xaabbccdd;
const CNAME = 'parley@host'; // 11 bytes

/** Bytes from hex with spaces for readability. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** A session that sent 3 × 160 bytes and received 65534, 65535, 0, 2 (1 lost) in perfect time. */
function sessionWithTraffic(): RtcpSession {
  const s = new RtcpSession({ localSsrc: US, cname: CNAME, clockRate: 8000 });
  s.onRtpSent(160, 1000, 100);
  s.onRtpSent(160, 1160, 120);
  s.onRtpSent(160, 1320, 140);
  s.onRtpReceived(PEER, 65534, 0, 1000);
  s.onRtpReceived(PEER, 65535, 160, 1020);
  s.onRtpReceived(PEER, 0, 320, 1040);
  s.onRtpReceived(PEER, 2, 640, 1080);
  return s;
}

describe('RTCP packets we build (RFC 3550 §6.4.1, §6.4.2, §6.5.1, §6.6)', () => {
  it('SR + one report block + SDES CNAME, every field at its offset', () => {
    const s = sessionWithTraffic();
    const before = Date.now() - performance.now();
    const b = s.buildReport(150);
    assert.equal(b.length, 28 + 24 + 24);
    // SR header: V=2 P=0 RC=1, PT=200, length 12 words − 1... (52 bytes → 12)
    assert.equal(b[0], 0x81);
    assert.equal(b[1], 200);
    assert.equal(b.readUInt16BE(2), 12);
    assert.equal(b.readUInt32BE(4), US);
    // NTP timestamp (§4): wall clock of nowMs = 150 on the performance clock.
    const ntpMs = b.readUInt32BE(8) * 1000 + (b.readUInt32BE(12) / 2 ** 32) * 1000;
    assert.ok(Math.abs(ntpMs - 2_208_988_800_000 - (before + 150)) < 50, `NTP ${ntpMs}`);
    // RTP timestamp of the same instant: 1320 at 140 ms + 10 ms at 8 kHz.
    assert.equal(b.readUInt32BE(16), 1400);
    assert.equal(b.readUInt32BE(20), 3, 'sender packet count');
    assert.equal(b.readUInt32BE(24), 480, 'sender octet count');
    // Report block about the peer.
    assert.equal(b.readUInt32BE(28), PEER);
    assert.equal(b[32], Math.floor(256 / 5), 'fraction lost: 1 of 5');
    assert.equal(b.readUIntBE(33, 3), 1, 'cumulative lost');
    assert.equal(b.readUInt32BE(36), 0x00010002, 'extended highest seq: one wrap, then 2');
    assert.equal(b.readUInt32BE(40), 0, 'jitter: packets arrived in perfect time');
    assert.equal(b.readUInt32BE(44), 0, 'LSR: no SR from the peer yet');
    assert.equal(b.readUInt32BE(48), 0, 'DLSR');
    // SDES: SC=1, PT=202, 24 bytes, chunk SSRC, CNAME item, null terminator + padding.
    assert.equal(b[52], 0x81);
    assert.equal(b[53], 202);
    assert.equal(b.readUInt16BE(54), 5);
    assert.equal(b.readUInt32BE(56), US);
    assert.equal(b[60], 1, 'item type CNAME');
    assert.equal(b[61], 11);
    assert.equal(b.subarray(62, 73).toString(), CNAME);
    assert.deepEqual([...b.subarray(73, 76)], [0, 0, 0]);
    assert.equal(s.stats.reportsSent, 1);
    assert.equal(s.stats.fractionLost, Math.floor(256 / 5) / 256);
  });

  it('RR when nothing was sent since the last report; no block before any RTP arrived', () => {
    const s = new RtcpSession({ localSsrc: US, cname: 'abc', clockRate: 8000 });
    const empty = s.buildReport(0);
    // RR, RC=0, 2 words; SDES with a 3-byte CNAME: 4+2+3 = 9 → 12 bytes of chunk.
    assert.deepEqual([...empty], [...hex('80c9 0001 11223344  81ca 0003 11223344 0103 616263 000000')]);
    const t = sessionWithTraffic();
    t.buildReport(150);
    const rr = t.buildReport(5150);
    assert.equal(rr[0], 0x81);
    assert.equal(rr[1], 201);
    assert.equal(rr.readUInt16BE(2), 7);
    assert.equal(rr.readUInt32BE(4), US);
    assert.equal(rr.readUInt32BE(8), PEER);
    assert.equal(rr[12], 0, 'nothing new lost in this interval');
    assert.equal(rr.readUIntBE(13, 3), 1, 'cumulative lost stays');
    assert.equal(rr[33], 202, 'SDES follows the 32-byte RR');
  });

  it('CNAME lengths pad to 32 bits with at least one null octet', () => {
    for (const [len, chunk] of [[1, 8], [2, 12], [5, 12], [6, 16]] as const) {
      const b = new RtcpSession({ localSsrc: 1, cname: 'x'.repeat(len), clockRate: 8000 }).buildReport(0);
      const sdes = b.subarray(8);
      assert.equal(sdes.length, 4 + chunk, `cname of ${len}`);
      assert.equal(sdes.readUInt16BE(2), sdes.length / 4 - 1);
      assert.equal(sdes[sdes.length - 1], 0);
    }
  });

  it('BYE closes the compound with our SSRC', () => {
    const s = sessionWithTraffic();
    const b = s.buildBye(150);
    assert.equal(b[1], 200);
    const bye = b.subarray(b.length - 8);
    assert.deepEqual([...bye], [...hex('81cb 0001 11223344')]);
    assert.equal(new RtcpSession({ localSsrc: 2, cname: 'c', clockRate: 8000 }).handleRtcp(b, 0), true);
  });

  it('cumulative loss is written as a signed 24-bit value (duplicates make it negative)', () => {
    const s = new RtcpSession({ localSsrc: US, cname: CNAME, clockRate: 8000 });
    for (const seq of [10, 11, 11, 11, 12]) s.onRtpReceived(PEER, seq, seq * 160, seq * 20);
    const b = s.buildReport(300);
    assert.equal(b.readIntBE(13, 3), -2);
    assert.equal(b[12], 0, 'no fraction lost when duplicates outnumber losses');
  });

  it('rejects bad options with a clear error', () => {
    assert.throws(() => new RtcpSession({ localSsrc: -1, cname: 'a', clockRate: 8000 }), /SSRC/);
    assert.throws(() => new RtcpSession({ localSsrc: 2 ** 32, cname: 'a', clockRate: 8000 }), /SSRC/);
    assert.throws(() => new RtcpSession({ localSsrc: 1, cname: '', clockRate: 8000 }), /CNAME/);
    assert.throws(() => new RtcpSession({ localSsrc: 1, cname: 'é'.repeat(128), clockRate: 8000 }), /CNAME/);
    assert.throws(() => new RtcpSession({ localSsrc: 1, cname: 'a', clockRate: 0 }), /clock rate/);
    const s = new RtcpSession({ localSsrc: 1, cname: 'a', clockRate: 8000 });
    assert.throws(() => s.setClockRate(44.1), /clock rate/);
    assert.throws(() => s.setLocalSsrc(1.5), /SSRC/);
  });
});

describe('RTCP packets from the peer', () => {
  // SR from PEER: NTP 0xE1234567.89ABCDEF, RTP 0x01020304, 1000 packets, 160000 octets,
  // one block about US: fraction 0x40, cumulative −3, ext seq 0x00020010, jitter 800, LSR 0, DLSR 0.
  const peerSr = hex(`81c8 000c aabbccdd e1234567 89abcdef 01020304 000003e8 00027100
                      11223344 40fffffd 00020010 00000320 00000000 00000000`);
  const app = hex('80cc 0002 aabbccdd 6e616d65'); // APP (§6.7): SSRC + name, no data
  const xr = hex('80cf 0003 aabbccdd 04000002 00000000'); // XR (RFC 3611) with an unknown block
  const unknown = hex('9fd5 0001 deadbeef'); // PT 213, count 31, nothing else
  const sdes = hex('81ca 0003 aabbccdd 0103 706565 000000');
  const bye = hex('81cb 0001 aabbccdd');

  it('reads the SR and the block about us, skipping APP, XR, unknown types, SDES and BYE', () => {
    const s = sessionWithTraffic();
    const compound = Buffer.concat([peerSr, app, xr, unknown, sdes, bye]);
    assert.equal(s.handleRtcp(compound, 2000), true);
    const st = s.stats;
    assert.deepEqual(st.remote, { fractionLost: 0.25, cumulativeLost: -3, jitterMs: 100 });
    assert.equal(st.rttMs, null, 'LSR 0: no RTT (§6.4.1)');
    assert.equal(st.reportsReceived, 1);
    // Our next report echoes the SR: LSR = middle 32 bits, DLSR = 1.5 s in 1/65536 s.
    const b = s.buildReport(3500);
    assert.equal(b.readUInt32BE(44), 0x456789ab);
    assert.equal(b.readUInt32BE(48), 1.5 * 65536);
  });

  it('an RR whose blocks are about other sources changes nothing about us', () => {
    const s = sessionWithTraffic();
    const rr = hex('81c9 0007 aabbccdd 99999999 40fffffd 00020010 00000320 00000000 00000000');
    assert.equal(s.handleRtcp(rr, 2000), true);
    assert.equal(s.stats.remote, null);
    assert.equal(s.stats.reportsReceived, 1);
  });

  it('an SR from a source other than the one we receive is not echoed as LSR', () => {
    const s = sessionWithTraffic();
    const other = Buffer.from(peerSr);
    other.writeUInt32BE(0x01010101, 4);
    assert.equal(s.handleRtcp(other, 2000), true);
    assert.equal(s.buildReport(2100).readUInt32BE(44), 0);
  });

  it('padding on the last packet is accepted and stripped (§6.4.1 P bit)', () => {
    const s = sessionWithTraffic();
    const padded = Buffer.concat([hex('a1c9 0008'), peerSr.subarray(4, 8), peerSr.subarray(28, 52), hex('00000004')]);
    assert.equal(s.handleRtcp(padded, 2000), true);
    assert.equal(s.stats.remote?.cumulativeLost, -3);
  });

  it('rejects what is not valid RTCP and changes nothing', () => {
    const cases: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      short: hex('81c8'),
      'version 1': hex('41c9 0001 aabbccdd'),
      'RTP payload type': hex('8000 0001 aabbccdd'),
      'length overruns': hex('81c9 0010 aabbccdd'),
      'report count overruns': hex('82c9 0007 aabbccdd 11223344 40fffffd 00020010 00000320 00000000 00000000'),
      'SR too short for sender info': hex('80c8 0002 aabbccdd 00000000'),
      'trailing bytes': Buffer.concat([peerSr, hex('0000')]),
      'second packet truncated': Buffer.concat([peerSr, hex('81ca 0003 aabbccdd')]),
      'second packet version 0': Buffer.concat([peerSr, hex('01cb 0001 aabbccdd')]),
      'padding larger than body': hex('a0c9 0001 aabbcc09'),
      'padding of zero': hex('a0c9 0001 aabbcc00'),
      'BYE count overruns': hex('82cb 0001 aabbccdd'),
    };
    /** The next report without its NTP timestamp (read from each session's own wall-clock offset). */
    const nextReport = (s: RtcpSession): Buffer => {
      const b = s.buildReport(2500);
      return Buffer.concat([b.subarray(0, 8), b.subarray(16)]);
    };
    for (const [name, p] of Object.entries(cases)) {
      const s = sessionWithTraffic();
      const before = s.stats;
      assert.equal(s.handleRtcp(p, 2000), false, name);
      assert.deepEqual(s.stats, before, name);
      assert.deepEqual(nextReport(s), nextReport(sessionWithTraffic()), name);
    }
  });

  it('a truncated SR compound is rejected at every cut, accepted at packet boundaries', () => {
    const compound = Buffer.concat([peerSr, app, sdes]);
    const boundaries = new Set([peerSr.length, peerSr.length + app.length, compound.length]);
    for (let n = 0; n <= compound.length; n++) {
      const s = sessionWithTraffic();
      assert.equal(s.handleRtcp(compound.subarray(0, n), 2000), boundaries.has(n), `cut at ${n}`);
    }
  });
});

describe('isRtcp (RFC 5761 §4)', () => {
  it('is true for PT 192..223 with version 2, false for RTP and other protocols', () => {
    assert.equal(isRtcp(hex('80c8 0006')), true);
    assert.equal(isRtcp(hex('80c0 0000')), true);
    assert.equal(isRtcp(hex('80df 0000')), true);
    assert.equal(isRtcp(hex('80bf 0000')), false, 'PT 63 with marker: RTP');
    assert.equal(isRtcp(hex('80e0 0000')), false, 'PT 96 with marker: RTP');
    assert.equal(isRtcp(hex('8000 0001')), false, 'PCMU');
    assert.equal(isRtcp(hex('00c8 0000')), false, 'STUN-like first byte');
    assert.equal(isRtcp(hex('80c8')), false, 'too short');
  });
});

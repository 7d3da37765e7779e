// Cross-check with an independent RTCP implementation (werift-rtp, dev dependency):
// what we build parses there with the same values, and what it builds we read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtcpPacketConverter, RtcpReceiverInfo, RtcpRrPacket, RtcpSenderInfo, RtcpSourceDescriptionPacket, RtcpSrPacket } from 'werift-rtp';
import { RtcpSession } from '../../../src/media-plane/rtcp/index.ts';

const US = 0xc0ffee01;
const PEER = 0x7e7e7e7e;

function busySession(): RtcpSession {
  const s = new RtcpSession({ localSsrc: US, cname: 'leg-1@parley.example', clockRate: 16000 });
  for (let i = 0; i < 40; i++) s.onRtpSent(80 + i, 5000 + i * 320, 10_000 + i * 20);
  // Peer stream starts near the wrap; 65535 and 2 are lost; delay varies by 0 / 3 ms.
  for (let i = 0; i < 30; i++) {
    const seq = (65530 + i) & 0xffff;
    if (seq === 65535 || seq === 2) continue;
    s.onRtpReceived(PEER, seq, 100 + i * 320, 10_000 + i * 20 + (i % 3 === 0 ? 3 : 0));
  }
  return s;
}

describe('RTCP cross-check with werift-rtp', () => {
  it('our SR + SDES parse there with the same values', () => {
    const s = busySession();
    const b = s.buildReport(11_000);
    const packets = RtcpPacketConverter.deSerialize(b);
    assert.equal(packets.length, 2);
    const [sr, sdes] = packets;
    assert.ok(sr instanceof RtcpSrPacket);
    assert.ok(sdes instanceof RtcpSourceDescriptionPacket);
    assert.equal(sr.ssrc, US);
    assert.equal(sr.senderInfo.ntpTimestamp, b.readBigUInt64BE(8));
    assert.equal(sr.senderInfo.rtpTimestamp, 5000 + 39 * 320 + (11_000 - 10_780) * 16);
    assert.equal(sr.senderInfo.packetCount, 40);
    assert.equal(sr.senderInfo.octetCount, 40 * 80 + (39 * 40) / 2);
    assert.equal(sr.reports.length, 1);
    const r = sr.reports[0];
    const st = s.stats;
    assert.equal(r.ssrc, PEER);
    assert.equal(r.fractionLost, Math.floor((2 * 256) / 30));
    assert.equal(r.packetsLost, 2);
    assert.equal(st.cumulativeLost, 2);
    assert.equal(r.highestSequence, 65536 + 23);
    assert.equal(r.jitter, Math.floor((st.jitterMs * 16000) / 1000));
    assert.ok(r.jitter > 0);
    assert.deepEqual([r.lsr, r.dlsr], [0, 0]);
    assert.equal(sdes.chunks.length, 1);
    assert.equal(sdes.chunks[0].source, US);
    assert.deepEqual(sdes.chunks[0].items.map((i) => [i.type, i.text]), [[1, 'leg-1@parley.example']]);
  });

  it('our RR parses there with the same values', () => {
    const s = busySession();
    s.buildReport(11_000);
    const [rr] = RtcpPacketConverter.deSerialize(s.buildReport(16_000));
    assert.ok(rr instanceof RtcpRrPacket);
    assert.equal(rr.ssrc, US);
    assert.equal(rr.reports[0].ssrc, PEER);
    assert.equal(rr.reports[0].fractionLost, 0);
    assert.equal(rr.reports[0].packetsLost, 2);
    assert.equal(rr.reports[0].highestSequence, 65536 + 23);
  });

  it('its SR and RR read here: remote loss and jitter, LSR echo, RTT', () => {
    const s = busySession();
    // Our SR at t = 11 s; werift's peer answers with an SR whose block echoes its LSR
    // after holding it 250 ms; it arrives 40 ms after it left, so RTT = 80 ms.
    const ours = s.buildReport(11_000);
    const lsr = ours.readUInt32BE(10); // middle 32 bits of our NTP timestamp
    const block = new RtcpReceiverInfo({ ssrc: US, fractionLost: 64, packetsLost: 7, highestSequence: 40, jitter: 480, lsr, dlsr: 250 * 65.536 });
    const peerNtp = (0xe2000000n << 32n) | 0x12345678n;
    const sr = new RtcpSrPacket({ ssrc: PEER, senderInfo: new RtcpSenderInfo({ ntpTimestamp: peerNtp, rtpTimestamp: 1, packetCount: 2, octetCount: 3 }), reports: [block] });
    const rr = new RtcpRrPacket({ ssrc: PEER, reports: [new RtcpReceiverInfo({ ...block, fractionLost: 0, packetsLost: 9 })] });
    assert.equal(s.handleRtcp(sr.serialize(), 11_000 + 40 + 250 + 40), true);
    const st = s.stats;
    assert.deepEqual(st.remote, { fractionLost: 0.25, cumulativeLost: 7, jitterMs: 30 });
    assert.ok(st.rttMs !== null && Math.abs(st.rttMs - 80) < 0.1, `rtt ${st.rttMs}`);
    // Our next report echoes werift's SR: LSR 0x00001234, DLSR 100 ms.
    const next = s.buildReport(11_000 + 330 + 100);
    const [echo] = RtcpPacketConverter.deSerialize(next);
    assert.ok(echo instanceof RtcpRrPacket);
    assert.equal(echo.reports[0].lsr, 0x00001234);
    assert.equal(echo.reports[0].dlsr, Math.round(100 * 65.536));
    assert.equal(s.handleRtcp(rr.serialize(), 12_000), true);
    assert.equal(s.stats.remote?.cumulativeLost, 9);
    assert.equal(s.stats.reportsReceived, 2);
  });
});

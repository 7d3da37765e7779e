// RtpReceiver alone (no sockets): which datagrams reach the leg, in which order, and
// how the drops are counted. Real UDP cases are in test/integration/media/stray-rtp-latch.
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { describe, it, mock } from 'node:test';
import { performance } from 'node:perf_hooks';
import type { EndpointStats, RtpEndpointOptions, SrtpContext } from '../../../src/media-plane/rtp-endpoint.ts';
import { RtpReceiver } from '../../../src/media-plane/rtp-receiver.ts';
import { generateSrtpKeyBase64, SrtpSession } from '../../../src/media-plane/srtp/index.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { buildRtp } from '../../helpers/rtp.ts';

function receiver(srtp: SrtpContext | null = null): { rx: RtpReceiver; stats: EndpointStats; seqs: number[]; latchedTo: string[] } {
  const stats: EndpointStats = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, rtcpIn: 0, rtcpOut: 0, malformed: 0, otherProtocol: 0, wrongSource: 0, unexpectedPt: 0, srtpFailures: 0, ssrcProbation: 0, ssrcChanges: 0 };
  const seqs: number[] = [];
  const latchedTo: string[] = [];
  const opts = { latching: 'latch', log: silentLogger(), onRtp: (p: Buffer) => seqs.push(p.readUInt16BE(2)), onSsrc: () => {} } as unknown as RtpEndpointOptions;
  const rx = new RtpReceiver(stats, opts, (r) => latchedTo.push(`${r.address}:${r.port}`));
  rx.configure({ remote: { ip: '127.0.0.1', port: 4000, rtcpPort: null, rtcpMux: true }, payloadTypes: [0], audioPt: 0, srtp, sending: true }, false);
  return { rx, stats, seqs, latchedTo };
}

const from = (address: string, port: number): dgram.RemoteInfo => ({ address, port, family: 'IPv4', size: 172 });
const pkt = (seq: number, payloadType = 0): Buffer => buildRtp({ payloadType, seq, timestamp: seq * 160, ssrc: 42, payload: Buffer.alloc(160, 0x80) });

describe('RtpReceiver', () => {
  it('a source other than the SDP address: its probation packets are held and played first, in order', () => {
    const { rx, stats, seqs, latchedTo } = receiver();
    for (let s = 100; s < 105; s++) rx.onRtpMessage(pkt(s), from('127.0.0.9', 5000));
    assert.deepEqual(seqs, [100, 101, 102, 103, 104]);
    assert.equal(stats.packetsIn, 5);
    assert.equal(stats.wrongSource, 0);
    assert.deepEqual(latchedTo, ['127.0.0.9:5000']);
  });

  it('a stray source that does not latch: its held packets are never played and stay counted', () => {
    const { rx, stats, seqs, latchedTo } = receiver();
    rx.onRtpMessage(pkt(1), from('127.0.0.9', 5000));
    rx.onRtpMessage(pkt(2), from('127.0.0.9', 5000));
    for (let s = 10; s < 13; s++) rx.onRtpMessage(pkt(s), from('127.0.0.1', 4000));
    // The stray goes on: it may not take the leg, nor release what it sent before.
    rx.onRtpMessage(pkt(3), from('127.0.0.9', 5000));
    assert.deepEqual(seqs, [10, 11, 12]);
    assert.equal(stats.wrongSource, 3);
    assert.deepEqual(latchedTo, ['127.0.0.1:4000']);
  });

  it('a new candidate drops the previous candidate’s held packets', () => {
    const { rx, stats, seqs } = receiver();
    rx.onRtpMessage(pkt(1), from('127.0.0.9', 5000));
    rx.onRtpMessage(pkt(2), from('127.0.0.9', 5000));
    for (let s = 20; s < 23; s++) rx.onRtpMessage(pkt(s), from('127.0.0.8', 6000));
    assert.deepEqual(seqs, [20, 21, 22]);
    assert.equal(stats.wrongSource, 2);
  });

  it('RTP from source port 0 is dropped: it could be neither latched nor sent to', () => {
    const { rx, stats, seqs, latchedTo } = receiver();
    for (let s = 0; s < 5; s++) rx.onRtpMessage(pkt(s), from('127.0.0.9', 0));
    assert.deepEqual(seqs, []);
    assert.deepEqual(latchedTo, []);
    assert.equal(stats.wrongSource, 5);
  });

  it('STUN, ZRTP and DTLS on the media port are ignored and counted apart; junk is malformed; neither latches nor plays', () => {
    const { rx, stats, seqs, latchedTo } = receiver();
    // A STUN binding request (RFC 5389 §6: type 0x0001, magic cookie), as a phone's ICE check sends it.
    const stun = Buffer.alloc(20);
    stun.writeUInt16BE(0x0001, 0);
    stun.writeUInt32BE(0x2112a442, 4);
    // A ZRTP Hello (RFC 6189 §5: 0x10 first, 'ZRTP' magic at 4) and a DTLS ClientHello record (content type 22).
    const zrtp = Buffer.concat([Buffer.from([0x10, 0, 0, 1]), Buffer.from('ZRTP'), Buffer.alloc(80)]);
    const dtls = Buffer.concat([Buffer.from([22, 0xfe, 0xfd]), Buffer.alloc(60)]);
    for (const b of [stun, zrtp, dtls]) rx.onRtpMessage(b, from('127.0.0.9', 5000));
    rx.onRtcpMessage(stun, from('127.0.0.9', 5001));
    assert.equal(stats.otherProtocol, 4);
    assert.equal(stats.malformed, 0);
    // A first byte of 0 without the cookie, and one of the unassigned ranges, are not another protocol.
    const noCookie = Buffer.alloc(20);
    rx.onRtpMessage(noCookie, from('127.0.0.9', 5000));
    rx.onRtpMessage(Buffer.alloc(30, 0x60), from('127.0.0.9', 5000));
    rx.onRtpMessage(Buffer.from([0x80, 0]), from('127.0.0.9', 5000));
    assert.equal(stats.malformed, 3);
    assert.equal(stats.otherProtocol, 4);
    assert.deepEqual(seqs, []);
    assert.deepEqual(latchedTo, []);
    // (The first stream too is on probation, RFC 3550 §A.1: its first packet plays with its second.)
    rx.onRtpMessage(pkt(7), from('127.0.0.1', 4000));
    rx.onRtpMessage(pkt(8), from('127.0.0.1', 4000));
    assert.deepEqual(seqs, [7, 8], 'RTP still plays after them');
  });
  it('a re-offer that changes the payload type: the old one is still taken for a grace (packets in flight, RFC 3264 §8.3.2), then refused', (t) => {
    let now = 1000;
    t.after(() => mock.restoreAll());
    mock.method(performance, 'now', () => now);
    const { rx, stats, seqs } = receiver();
    rx.onRtpMessage(pkt(1), from('127.0.0.1', 4000));
    rx.configure({ remote: { ip: '127.0.0.1', port: 4000, rtcpPort: null, rtcpMux: true }, payloadTypes: [9], audioPt: 9, srtp: null, sending: true }, false);
    const g722 = (seq: number): Buffer => buildRtp({ payloadType: 9, seq, timestamp: seq * 160, ssrc: 42, payload: Buffer.alloc(160, 0) });
    const pcma = buildRtp({ payloadType: 8, seq: 3, timestamp: 480, ssrc: 42, payload: Buffer.alloc(160, 0xd5) });
    now += 100;
    rx.onRtpMessage(pkt(2), from('127.0.0.1', 4000));
    rx.onRtpMessage(pcma, from('127.0.0.1', 4000));
    rx.onRtpMessage(g722(4), from('127.0.0.1', 4000));
    now += 1000;
    rx.onRtpMessage(pkt(5), from('127.0.0.1', 4000));
    rx.onRtpMessage(g722(6), from('127.0.0.1', 4000));
    // PCMU 2, 100 ms on, within the grace (300 ms); PCMA never negotiated; PCMU 5, a second later, after it.
    assert.deepEqual(seqs, [1, 2, 4, 6]);
    assert.equal(stats.unexpectedPt, 2);
  });

  it('packets of a payload type never negotiated from a third source do not keep a peer behind NAT from latching', () => {
    const { rx, stats, seqs, latchedTo } = receiver();
    // One PT 8 packet (not in the SDP) from elsewhere between each two of the peer's.
    for (let s = 100; s < 110; s++) {
      rx.onRtpMessage(pkt(s), from('127.0.0.9', 5000));
      rx.onRtpMessage(pkt(s, 8), from('127.0.0.7', 7000));
    }
    assert.deepEqual(latchedTo, ['127.0.0.9:5000']);
    assert.deepEqual(seqs, [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    // Before the latch (the peer's first two packets) each was read and dropped for its type; after
    // it, refused unread as from another source.
    assert.deepEqual([stats.unexpectedPt, stats.wrongSource], [2, 8]);
  });

  it('SRTP that does not authenticate, from a third source or the SDP address, neither keeps a peer behind NAT from latching nor unlatches it', () => {
    const peerKey = generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_80');
    const ourKey = generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_80');
    const peer = new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: peerKey, recvKeyBase64: ourKey });
    const ours = new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: ourKey, recvKeyBase64: peerKey });
    const { rx, stats, seqs, latchedTo } = receiver(ours);
    // Forged: a well-formed header and 10 bytes of tag that are not the key's.
    const forged = (seq: number): Buffer => Buffer.concat([pkt(seq), Buffer.alloc(10, 0xab)]);
    for (let s = 100; s < 110; s++) {
      rx.onRtpMessage(peer.protectRtp(pkt(s)), from('127.0.0.9', 5000));
      rx.onRtpMessage(forged(s + 1000), from('127.0.0.7', 7000));
    }
    assert.deepEqual(latchedTo, ['127.0.0.9:5000']);
    assert.deepEqual(seqs, [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    // Forged packets from the signalled address (anyone can send from it) do not take the leg back
    // from the source it latched: the peer's next packet plays at once, not after a new probation.
    rx.onRtpMessage(forged(2000), from('127.0.0.1', 4000));
    rx.onRtpMessage(peer.protectRtp(pkt(110)), from('127.0.0.9', 5000));
    assert.equal(seqs.at(-1), 110);
    // Failing authentication: the two before the latch and the one from the signalled address;
    // the others, after the latch, refused undecrypted as from another source.
    assert.deepEqual([stats.srtpFailures, stats.wrongSource], [3, 8]);
  });
  it('SRTP from another source while the leg is latched to its peer is dropped before decryption (a flood costs no authentication)', () => {
    const peerKey = generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_80');
    const ourKey = generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_80');
    const peer = new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: peerKey, recvKeyBase64: ourKey });
    const ours = new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: ourKey, recvKeyBase64: peerKey });
    let decrypted = 0;
    const counting: SrtpContext = {
      protectRtp: (b) => ours.protectRtp(b),
      protectRtcp: (b) => ours.protectRtcp(b),
      unprotectRtcp: (b) => ours.unprotectRtcp(b),
      unprotectRtp: (b) => {
        decrypted++;
        return ours.unprotectRtp(b);
      },
    };
    const { rx, stats, seqs } = receiver(counting);
    for (let s = 1; s <= 3; s++) rx.onRtpMessage(peer.protectRtp(pkt(s)), from('127.0.0.1', 4000));
    for (let s = 0; s < 100; s++) rx.onRtpMessage(Buffer.concat([pkt(1000 + s), Buffer.alloc(10, 0xab)]), from('127.0.0.7', 7000));
    rx.onRtpMessage(peer.protectRtp(pkt(4)), from('127.0.0.1', 4000));
    assert.deepEqual(seqs, [1, 2, 3, 4]);
    assert.equal(decrypted, 4, 'only the peer\'s packets were decrypted');
    assert.equal(stats.wrongSource, 100);
    assert.equal(stats.srtpFailures, 0);
  });
});

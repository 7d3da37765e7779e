// SrtpSession: round trips per suite, and what it refuses (RFC 3711 §3.3 authentication,
// §3.3.2 replay) without ever throwing on input from the network.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateSrtpKeyBase64, SrtpIndexReuseError, SrtpKeyError, SrtpSession, SUPPORTED_SRTP_SUITES } from '../../../src/media-plane/srtp/index.ts';
import type { SrtpSuite } from '../../../src/media-plane/sdp-types.ts';
import { buildRtp } from '../../helpers/rtp.ts';

function pair(suite: SrtpSuite): { alice: SrtpSession; bob: SrtpSession } {
  const a = generateSrtpKeyBase64(suite);
  const b = generateSrtpKeyBase64(suite);
  return { alice: new SrtpSession({ suite, sendKeyBase64: a, recvKeyBase64: b }), bob: new SrtpSession({ suite, sendKeyBase64: b, recvKeyBase64: a }) };
}

function rtp(seq: number, ssrc = 0x11223344, fill = seq & 0xff): Buffer {
  return buildRtp({ payloadType: 0, seq, timestamp: seq * 160, ssrc, payload: Buffer.alloc(160, fill) });
}

/** An RTCP receiver report (RFC 3550 §6.4.2) with one report block. */
function rtcpRr(ssrc: number): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0x81;
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(ssrc, 4);
  b.writeUInt32BE(0xcafebabe, 8);
  b.writeUInt32BE(0x40000123, 12);
  return b;
}

const clean = { authFailures: 0, replayDropped: 0, malformed: 0 };
/** Bytes of the SRTP authentication tag per suite. */
const TAG: Partial<Record<SrtpSuite, number>> = { AEAD_AES_128_GCM: 16, AES_CM_128_HMAC_SHA1_80: 10, AES_CM_128_HMAC_SHA1_32: 4 };

/** The packet with an MKI put in before its last `tag` bytes (RFC 3711 §3.1, §3.4). */
function withMki(p: Buffer, tag: number, mki: Buffer): Buffer {
  return Buffer.concat([p.subarray(0, p.length - tag), mki, p.subarray(p.length - tag)]);
}

describe('SrtpSession', () => {
  it('supports AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32 and AEAD_AES_128_GCM (on werift-rtp\'s ciphers)', () => {
    assert.deepEqual([...SUPPORTED_SRTP_SUITES].sort(), ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80']);
  });

  it('refuses a suite this build does not support, with a clear error', () => {
    const k = generateSrtpKeyBase64('AEAD_AES_256_GCM');
    assert.throws(() => new SrtpSession({ suite: 'AEAD_AES_256_GCM', sendKeyBase64: k, recvKeyBase64: k }), /not supported/);
  });

  it('refuses keys of the wrong length or form', () => {
    const short = generateSrtpKeyBase64('AEAD_AES_128_GCM'); // 28 bytes, the CM suites need 30
    const good = generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_80');
    assert.throws(() => new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: short, recvKeyBase64: good }), SrtpKeyError);
    assert.throws(() => new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: good, recvKeyBase64: 'not base64!' }), /receive SRTP key is not base64/);
  });

  for (const suite of SUPPORTED_SRTP_SUITES) {
    describe(suite, () => {
      it('RTP round trip: payload encrypted on the wire, intact after unprotect', () => {
        const { alice, bob } = pair(suite);
        for (let seq = 65_530; seq < 65_536 + 10; seq++) {
          const plain = rtp(seq & 0xffff);
          const wire = alice.protectRtp(plain);
          assert.equal(wire.length, plain.length + TAG[suite]!, 'tag length (RFC 7714 §7, RFC 3711 §4.2, RFC 4568 §6.2)');
          assert.deepEqual(wire.subarray(0, 12), plain.subarray(0, 12), 'header in the clear');
          assert.notDeepEqual(wire.subarray(12, plain.length), plain.subarray(12), 'payload encrypted');
          assert.deepEqual(bob.unprotectRtp(wire), plain);
        }
        assert.deepEqual(bob.stats, clean);
      });

      it('CSRCs, a header extension with inner padding, and RTP padding come back byte for byte', () => {
        const { alice, bob } = pair(suite);
        const plain = Buffer.concat([
          Buffer.from([0xb2, 0x00, 0x01, 0x00]), // V=2, P, X, CC=2; PT 0; seq 256
          Buffer.from('0000a0000badf00d1111111122222222', 'hex'), // ts, SSRC, 2 CSRCs
          Buffer.from('bede0002100000002a000000', 'hex'), // RFC 8285 one-byte extension, zero padding between elements
          Buffer.alloc(160, 0x5a),
          Buffer.from([0, 0, 0, 4]), // RFC 3550 §5.1 padding
        ]);
        const wire = alice.protectRtp(plain);
        assert.deepEqual(wire.subarray(0, 32), plain.subarray(0, 32), 'header sent as given');
        assert.deepEqual(bob.unprotectRtp(wire), plain);
      });

      it('RTCP round trip, SRTCP index and E flag on the wire (RFC 3711 §3.4)', () => {
        const { alice, bob } = pair(suite);
        for (let i = 1; i <= 3; i++) {
          const plain = rtcpRr(0xabcdef01);
          const wire = alice.protectRtcp(plain);
          const indexAt = suite === 'AEAD_AES_128_GCM' ? wire.length - 4 : wire.length - 14;
          assert.equal(wire.readUInt32BE(indexAt), (0x80000000 | i) >>> 0, 'E=1 and index counting from 1');
          assert.deepEqual(bob.unprotectRtcp(wire), plain);
        }
        assert.deepEqual(bob.stats, clean);
      });

      it('a tampered packet is refused and counted, header or payload or tag', () => {
        const { alice, bob } = pair(suite);
        let seq = 100;
        for (const at of [1, 3, 9, 20, -1]) {
          const wire = alice.protectRtp(rtp(seq++));
          wire[at < 0 ? wire.length + at : at] ^= 0x01;
          assert.equal(bob.unprotectRtp(wire), null, `bit flipped at ${at}`);
        }
        const rtcp = alice.protectRtcp(rtcpRr(7));
        rtcp[10] ^= 0x80;
        assert.equal(bob.unprotectRtcp(rtcp), null);
        assert.deepEqual(bob.stats, { ...clean, authFailures: 6 });
        // A refused packet moved no state: the next good one still decrypts.
        assert.ok(bob.unprotectRtp(alice.protectRtp(rtp(seq))));
      });

      it('a replayed packet is refused, RTP and RTCP, also out of order within the window', () => {
        const { alice, bob } = pair(suite);
        const wires = [10, 11, 12, 13].map((s) => alice.protectRtp(rtp(s)));
        assert.ok(bob.unprotectRtp(wires[0]));
        assert.ok(bob.unprotectRtp(wires[2]));
        assert.ok(bob.unprotectRtp(wires[1]), 'late but new: accepted');
        assert.equal(bob.unprotectRtp(wires[2]), null);
        assert.equal(bob.unprotectRtp(wires[0]), null);
        assert.ok(bob.unprotectRtp(wires[3]));
        const rtcp = alice.protectRtcp(rtcpRr(5));
        assert.ok(bob.unprotectRtcp(rtcp));
        assert.equal(bob.unprotectRtcp(rtcp), null);
        assert.deepEqual(bob.stats, { ...clean, replayDropped: 3 });
      });

      it('a packet older than the replay window is refused (RFC 3711 §3.3.2)', () => {
        const { alice, bob } = pair(suite);
        const old = alice.protectRtp(rtp(1000));
        const newer = alice.protectRtp(rtp(1200));
        assert.ok(bob.unprotectRtp(newer));
        assert.equal(bob.unprotectRtp(old), null);
        assert.equal(bob.stats.replayDropped, 1);
      });

      it('truncated packets and garbage give null, never throw', () => {
        const { alice, bob } = pair(suite);
        const wire = alice.protectRtp(rtp(5));
        const rtcp = alice.protectRtcp(rtcpRr(5));
        const inputs: Buffer[] = [Buffer.alloc(0), Buffer.from([0x80]), wire.subarray(0, 12), wire.subarray(0, wire.length - 1), wire.subarray(0, 20), rtcp.subarray(0, 8), rtcp.subarray(0, rtcp.length - 1)];
        // A header that claims more than the packet holds: 15 CSRCs, or an extension of 65,535 words.
        const csrcs = Buffer.from(wire);
        csrcs[0] = 0x8f;
        const ext = Buffer.from(wire);
        ext[0] = 0x90;
        ext.writeUInt16BE(0xffff, 14);
        inputs.push(csrcs, ext);
        let seed = 1;
        for (let i = 0; i < 300; i++) {
          const len = i % 80;
          const b = Buffer.alloc(len);
          for (let k = 0; k < len; k++) b[k] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
          if (i % 2 && len) b[0] = 0x80 | (b[0] & 0x3f);
          inputs.push(b);
        }
        for (const b of inputs) {
          assert.doesNotThrow(() => assert.equal(bob.unprotectRtp(b), null));
          assert.doesNotThrow(() => assert.equal(bob.unprotectRtcp(b), null));
        }
        const { authFailures, replayDropped, malformed } = bob.stats;
        assert.equal(authFailures + replayDropped + malformed, inputs.length * 2, 'every refusal counted once');
        assert.ok(malformed > 0 && authFailures > 0);
        assert.deepEqual(bob.unprotectRtp(alice.protectRtp(rtp(6))), rtp(6), 'still works afterwards');
      });

      it('the sender refuses to use an index twice (keystream reuse), like libsrtp', () => {
        const { alice } = pair(suite);
        alice.protectRtp(rtp(7));
        assert.throws(() => alice.protectRtp(rtp(7, undefined, 0x55)), SrtpIndexReuseError);
        assert.throws(() => alice.protectRtp(Buffer.alloc(4)), /not an RTP packet/);
      });
    });
  }

  it('AES_CM_128_HMAC_SHA1_32: the RTP tag is the first 4 bytes of _80\'s under the same key; SRTCP keeps the 80-bit tag (as libsrtp)', () => {
    const k = generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_32');
    const other = generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_32');
    const s32 = new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_32', sendKeyBase64: k, recvKeyBase64: other });
    const s80 = new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: k, recvKeyBase64: other });
    const a = s32.protectRtp(rtp(500));
    const b = s80.protectRtp(rtp(500));
    assert.deepEqual(a, b.subarray(0, b.length - 6));
    assert.equal(s32.protectRtcp(rtcpRr(9)).length, rtcpRr(9).length + 14, 'E|index and a 10-byte tag');
  });

  it('AES_CM_128_HMAC_SHA1_32: SRTCP from a peer that cuts its tag to 32 bits too (linphone, baresip) is taken, and ours follows it; back to 80 bits likewise', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_32';
    const a = generateSrtpKeyBase64(suite);
    const b = generateSrtpKeyBase64(suite);
    const alice = new SrtpSession({ suite, sendKeyBase64: a, recvKeyBase64: b });
    const bob = new SrtpSession({ suite, sendKeyBase64: b, recvKeyBase64: a });
    const rr = rtcpRr(0x01020304);
    const long = alice.protectRtcp(rr);
    assert.equal(long.length, rr.length + 14);
    assert.deepEqual(bob.unprotectRtcp(long), rr, '80-bit SRTCP taken');
    assert.equal(bob.protectRtcp(rtcpRr(5)).length, rr.length + 14, 'bob sends 80 bits while alice does');
    // A peer with 32-bit SRTCP tags: the first 4 bytes of the 80-bit tag over the same bytes.
    const next = alice.protectRtcp(rr);
    const short = next.subarray(0, next.length - 6);
    assert.deepEqual(bob.unprotectRtcp(short), rr, '32-bit SRTCP taken');
    assert.deepEqual(bob.stats, clean, 'the layout tried first and failed is not counted');
    const ours = bob.protectRtcp(rtcpRr(5));
    assert.equal(ours.length, rr.length + 8, 'bob now sends 32-bit tags too');
    assert.equal(bob.unprotectRtcp(short), null, 'a replay of it is refused');
    assert.deepEqual(bob.stats, { ...clean, replayDropped: 1 });
    const tampered = Buffer.from(alice.protectRtcp(rr).subarray(0, long.length - 6));
    tampered[tampered.length - 1] ^= 1;
    assert.equal(bob.unprotectRtcp(tampered), null);
    assert.deepEqual(bob.stats, { ...clean, replayDropped: 1, authFailures: 1 }, 'a packet that verifies under neither is counted once');
    assert.deepEqual(bob.unprotectRtcp(alice.protectRtcp(rr)), rr, 'back to 80 bits');
    assert.equal(bob.protectRtcp(rtcpRr(5)).length, rr.length + 14, 'and so are ours');
  });

  describe('a peer key with an MKI (RFC 3711 §3.1: between the encrypted part and the tag, outside what the tag covers)', () => {
    for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
      it(`${suite}: packets with the MKI decrypt, RTP and RTCP; another MKI or none is refused and counted`, () => {
        const a = generateSrtpKeyBase64(suite);
        const b = generateSrtpKeyBase64(suite);
        const alice = new SrtpSession({ suite, sendKeyBase64: a, recvKeyBase64: b });
        const bob = new SrtpSession({ suite, sendKeyBase64: b, recvKeyBase64: a, recvMki: { value: 0x0102, length: 2 } });
        const tag = TAG[suite]!;
        for (let seq = 65_534; seq < 65_540; seq++) {
          const plain = rtp(seq & 0xffff);
          const wire = withMki(alice.protectRtp(plain), tag, Buffer.from([1, 2]));
          assert.deepEqual(bob.unprotectRtp(wire), plain);
          assert.equal(wire.length, plain.length + 2 + tag, 'the MKI was left in the packet given');
        }
        const rr = rtcpRr(0xabcdef01);
        assert.deepEqual(bob.unprotectRtcp(withMki(alice.protectRtcp(rr), 10, Buffer.from([1, 2]))), rr);
        assert.deepEqual(bob.stats, clean);
        assert.equal(bob.unprotectRtp(withMki(alice.protectRtp(rtp(10)), tag, Buffer.from([1, 3]))), null, 'another key\'s MKI');
        assert.equal(bob.unprotectRtp(alice.protectRtp(rtp(11))), null, 'no MKI');
        assert.equal(bob.unprotectRtcp(withMki(alice.protectRtcp(rr), 10, Buffer.from([2, 2]))), null, 'another key\'s MKI on SRTCP');
        assert.equal(bob.unprotectRtp(Buffer.from([0x80, 0, 1, 2])), null, 'too short for an MKI');
        assert.deepEqual(bob.stats, { ...clean, authFailures: 3, malformed: 1 });
        assert.deepEqual(bob.unprotectRtp(withMki(alice.protectRtp(rtp(12)), tag, Buffer.from([1, 2]))), rtp(12), 'still works afterwards');
      });
    }

    for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
      it(`${suite}: our own MKI (symmetric MKI) goes in every SRTP and SRTCP packet, before the tag; a peer expecting it decrypts them`, () => {
        const a = generateSrtpKeyBase64(suite);
        const b = generateSrtpKeyBase64(suite);
        const mki = { value: 0x01, length: 1 };
        const alice = new SrtpSession({ suite, sendKeyBase64: a, recvKeyBase64: b, sendMki: mki });
        const plainAlice = new SrtpSession({ suite, sendKeyBase64: a, recvKeyBase64: b });
        const bob = new SrtpSession({ suite, sendKeyBase64: b, recvKeyBase64: a, recvMki: mki });
        const tag = TAG[suite]!;
        for (let seq = 65_534; seq < 65_540; seq++) {
          const plain = rtp(seq & 0xffff);
          const wire = alice.protectRtp(plain);
          const without = plainAlice.protectRtp(plain);
          // The same packet as without an MKI, with the MKI byte put in before the tag (RFC 3711 §3.1).
          assert.deepEqual(wire, withMki(without, tag, Buffer.from([1])));
          assert.deepEqual(bob.unprotectRtp(wire), plain);
        }
        const rr = rtcpRr(0xabcdef01);
        const wire = alice.protectRtcp(rr);
        assert.deepEqual(wire, withMki(plainAlice.protectRtcp(rr), 10, Buffer.from([1])), 'SRTCP: after E|index, before the tag (§3.4)');
        assert.deepEqual(bob.unprotectRtcp(wire), rr);
        assert.deepEqual(bob.stats, clean);
      });
    }

    it('an MKI on an AEAD suite, or longer than 4 bytes, is refused at once', () => {
      const k = generateSrtpKeyBase64('AEAD_AES_128_GCM');
      assert.throws(() => new SrtpSession({ suite: 'AEAD_AES_128_GCM', sendKeyBase64: k, recvKeyBase64: k, recvMki: { value: 1, length: 1 } }), /MKI/);
      const c = generateSrtpKeyBase64('AES_CM_128_HMAC_SHA1_80');
      assert.throws(() => new SrtpSession({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKeyBase64: c, recvKeyBase64: c, recvMki: { value: 1, length: 5 } }), /MKI/);
    });
  });
});

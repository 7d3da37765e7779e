// The one module that imports werift-rtp's SRTP code, and the seam where Parley
// closes its gap.
//
// werift-rtp does the cryptography (RFC 3711 key derivation, AES-CM + HMAC-SHA1-80,
// RFC 7714 AES-128-GCM, all on node:crypto), but its packet-index bookkeeping is not
// RFC 3711 §3.3.1's: Context.updateRolloverCount moves the rollover counter only when
// the previous packet was within 100 of 65535 and this one within 100 of 0, on the
// receiver and the sender alike. A stream that loses 100 packets across the wrap
// keeps the old ROC and fails authentication from then on (a failed packet does not
// update werift's state, so it never recovers); a sender that skips across the wrap
// encrypts with the old ROC. It keeps no replay list for SRTP or SRTCP (§3.3.2).
// The seam: Parley never calls werift's SrtpSession.encrypt/decrypt. SrtpSession
// (srtp-session.ts) estimates each packet's index itself (§3.3.1, with a §3.3.2
// replay window, per SSRC) and hands the rollover counter, or the SRTCP index, to
// the cipher below. Only key derivation and the cipher are werift's.
import { createDecipheriv, timingSafeEqual } from 'node:crypto';
import {
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RtpHeader,
  SrtpAuthenticationError,
  SrtpSession as WeriftSrtpSession,
} from 'werift-rtp';
import type { SrtpSuite } from '../sdp-types.ts';

/**
 * The suites werift-rtp 0.8.9's ciphers carry. AEAD_AES_256_GCM is not among them
 * (its key derivation is AES-128 only).
 *
 * AES_CM_128_HMAC_SHA1_32 has no werift profile (its tag length is fixed at 10
 * bytes), but it differs from _80 only in the length of the RTP tag (RFC 4568
 * §6.2.2): the same key derivation, AES-CM and HMAC-SHA1, the tag being the HMAC's
 * leftmost 32 bits instead of 80 (RFC 3711 §4.2). So it runs on werift's _80 cipher,
 * the RTP tag cut to 4 bytes when sending and checked on its 4 bytes when
 * receiving. Implementations differ on SRTCP: libsrtp's profile for the suite,
 * Chrome and mediasoup keep an 80-bit SRTCP tag, while linphone and baresip cut it
 * to 32 bits too. Both are decrypted here; SrtpSession sends what the peer sends.
 */
const PROFILES: Partial<Record<SrtpSuite, number>> = {
  AEAD_AES_128_GCM: ProtectionProfileAeadAes128Gcm,
  AES_CM_128_HMAC_SHA1_80: ProtectionProfileAes128CmHmacSha1_80,
  AES_CM_128_HMAC_SHA1_32: ProtectionProfileAes128CmHmacSha1_80,
};
/** Bytes of the RTP tag of AES_CM_128_HMAC_SHA1_32, and of the _80 tag werift makes. */
const SHORT_TAG = 4;
const FULL_TAG = 10;

export function weriftSupports(suite: SrtpSuite): boolean {
  return PROFILES[suite] !== undefined;
}

/** Thrown by the decrypt calls when a packet does not authenticate. */
export { SrtpAuthenticationError };

/** Bytes SRTP adds after the RTP payload, and SRTCP after the RTCP packet. */
export interface SrtpOverhead {
  /** RTP: the authentication tag (RFC 3711 §4.2; RFC 7714 §7: the GCM tag). */
  rtpTag: number;
  /** RTCP: where the E flag and SRTCP index sit, counted from the end of the packet. */
  rtcpIndexFromEnd: number;
  /** RTCP: the whole trailer (index and tag). */
  rtcpTrailer: number;
}

type Cipher = WeriftSrtpSession['localContext']['cipher'];
/** werift's AES-CM cipher (CipherAesCtr): its SRTP tag function is what a 32-bit tag is cut from. */
interface CtrCipher {
  readonly srtpSessionKey: Buffer;
  readonly srtpSessionSalt: Buffer;
  generateSrtpAuthTag(roc: number, ...buffers: Buffer[]): Buffer;
  generateSrtcpAuthTag(buf: Buffer): Buffer;
  generateCounter(sequenceNumber: number, rolloverCounter: number, ssrc: number, sessionSalt: Buffer): Buffer;
}

/**
 * The header werift's cipher is handed: the packet's own header bytes, not a parsed
 * and re-serialized copy. Parsing was a third of werift's cost per packet
 * (RtpHeader's constructor and bit readers, measured with --cpu-prof), and
 * re-serializing rewrote header extensions. The cipher reads sequenceNumber, ssrc,
 * payloadOffset and padding, and calls serialize(serializeSize) for the bytes to send
 * and authenticate; one instance per direction is reused, packets being handled one
 * at a time.
 */
class RawRtpHeader extends RtpHeader {
  private raw: Buffer<ArrayBuffer> = Buffer.alloc(0);

  /** Points the header at packet[0, headerLength). */
  load(packet: Buffer, headerLength: number): this {
    // Packets come from dgram or Buffer.alloc: never over a SharedArrayBuffer.
    this.raw = packet.subarray(0, headerLength) as Buffer<ArrayBuffer>;
    this.padding = (packet[0] & 0x20) !== 0;
    this.paddingSize = 0;
    this.sequenceNumber = packet.readUInt16BE(2);
    this.ssrc = packet.readUInt32BE(8);
    this.payloadOffset = headerLength;
    return this;
  }

  override get serializeSize(): number {
    return this.raw.length;
  }

  override serialize(): Buffer<ArrayBuffer> {
    return this.raw;
  }
}

export class WeriftSrtpCipher {
  readonly overhead: SrtpOverhead;
  private readonly send: Cipher;
  private readonly recv: Cipher;
  private readonly sendHeader = new RawRtpHeader();
  private readonly recvHeader = new RawRtpHeader();
  /** AES_CM_128_HMAC_SHA1_32: RTP tags are 4 bytes (see PROFILES). */
  private readonly shortTag: boolean;
  /** A received _32 SRTCP packet with its full 10-byte tag, for werift's decrypt (reused: werift copies out). */
  private scratch: Buffer<ArrayBuffer> = Buffer.alloc(0);

  constructor(suite: SrtpSuite, send: { key: Buffer; salt: Buffer }, recv: { key: Buffer; salt: Buffer }) {
    const profile = PROFILES[suite];
    if (profile === undefined) throw new Error(`SRTP suite ${suite} is not supported by werift-rtp`);
    // werift's session only derives the session keys of both directions; its own
    // encrypt/decrypt (and their index state) stay unused, see the top of this file.
    const session = new WeriftSrtpSession({
      profile,
      keys: { localMasterKey: send.key, localMasterSalt: send.salt, remoteMasterKey: recv.key, remoteMasterSalt: recv.salt },
    });
    this.send = session.localContext.cipher;
    this.recv = session.remoteContext.cipher;
    this.shortTag = suite === 'AES_CM_128_HMAC_SHA1_32';
    this.overhead =
      profile === ProtectionProfileAeadAes128Gcm
        ? // RFC 7714 §9.1: SRTCP is header, ciphertext with its 16-byte tag, then E|index.
          { rtpTag: 16, rtcpIndexFromEnd: 4, rtcpTrailer: 20 }
        : // RFC 3711 §3.4: SRTCP is header, ciphertext, E|index, then the 10-byte tag.
          { rtpTag: this.shortTag ? SHORT_TAG : FULL_TAG, rtcpIndexFromEnd: 14, rtcpTrailer: 14 };
  }

  /** Plain RTP whose header (checked by the caller) is headerLength bytes → SRTP with the given rollover counter. */
  encryptRtp(packet: Buffer, headerLength: number, roc: number): Buffer {
    const out = this.send.encryptRtp(this.sendHeader.load(packet, headerLength), packet.subarray(headerLength), roc);
    // _32: the HMAC's leftmost 32 bits (RFC 3711 §4.2), werift's 80-bit tag cut short.
    return this.shortTag ? out.subarray(0, out.length - (FULL_TAG - SHORT_TAG)) : out;
  }

  /** SRTP whose header (checked by the caller) is headerLength bytes → plain RTP (padding kept); throws SrtpAuthenticationError. */
  decryptRtp(packet: Buffer, headerLength: number, roc: number): Buffer {
    if (this.shortTag) return this.decryptShortTag(packet, headerLength, roc);
    return this.recv.decryptRtp(packet, roc, this.recvHeader.load(packet, headerLength))[0];
  }

  /**
   * _32: the 4-byte tag is checked against the leftmost bytes of werift's HMAC; the
   * payload is then decrypted as werift's decryptRtp does it (AES-128-CTR under its session
   * key, with its counter), not through decryptRtp, which would compute the HMAC a second
   * time on every packet. Padding is checked by the receiver, as for every suite.
   */
  private decryptShortTag(packet: Buffer, headerLength: number, roc: number): Buffer {
    const body = packet.length - SHORT_TAG;
    if (body < headerLength) throw new SrtpAuthenticationError('SRTP packet shorter than its header and tag');
    const c = this.recv as unknown as CtrCipher;
    const full = c.generateSrtpAuthTag(roc, packet.subarray(0, headerLength), packet.subarray(headerLength, body));
    if (!timingSafeEqual(full.subarray(0, SHORT_TAG), packet.subarray(body))) throw new SrtpAuthenticationError('Failed to authenticate SRTP packet');
    const counter = c.generateCounter(packet.readUInt16BE(2), roc, packet.readUInt32BE(8), c.srtpSessionSalt);
    const plain = createDecipheriv('aes-128-ctr', c.srtpSessionKey, counter).update(packet.subarray(headerLength, body));
    return Buffer.concat([packet.subarray(0, headerLength), plain]);
  }

  /** SRTCP packet[0, body) followed by the full 10-byte tag, once the packet's own short tag is the start of it; throws SrtpAuthenticationError. */
  private withFullTag(packet: Buffer, body: number, full: Buffer): Buffer {
    if (!timingSafeEqual(full.subarray(0, SHORT_TAG), packet.subarray(body))) throw new SrtpAuthenticationError('Failed to authenticate SRTP packet');
    const n = body + FULL_TAG;
    if (this.scratch.length < n) this.scratch = Buffer.alloc(Math.max(n, 1500));
    const whole = this.scratch.subarray(0, n);
    packet.copy(whole, 0, 0, body);
    full.copy(whole, body, 0, FULL_TAG);
    return whole;
  }

  /**
   * Plain RTCP → SRTCP with E=1 and the given index. `shortTag` (_32 only): a 32-bit tag
   * instead of 80, for peers that use the RTP tag length for SRTCP too (see SrtpSession).
   */
  encryptRtcp(packet: Buffer, index: number, shortTag = false): Buffer {
    const out = this.send.encryptRTCP(packet, index);
    return shortTag && this.shortTag ? out.subarray(0, out.length - (FULL_TAG - SHORT_TAG)) : out;
  }

  /** SRTCP → plain RTCP; throws SrtpAuthenticationError. `shortTag` (_32 only): its tag has 32 bits, not 80. */
  decryptRtcp(packet: Buffer, shortTag = false): Buffer {
    if (!shortTag || !this.shortTag) return this.recv.decryptRTCP(packet)[0];
    const body = packet.length - SHORT_TAG;
    if (body < 12) throw new SrtpAuthenticationError('SRTCP packet shorter than its header, index and tag');
    const full = (this.recv as unknown as CtrCipher).generateSrtcpAuthTag(packet.subarray(0, body));
    return this.recv.decryptRTCP(this.withFullTag(packet, body, full))[0];
  }
}

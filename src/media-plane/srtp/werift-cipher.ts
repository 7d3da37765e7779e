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
import {
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RtpHeader,
  SrtpAuthenticationError,
  SrtpSession as WeriftSrtpSession,
} from 'werift-rtp';
import type { SrtpSuite } from '../sdp-types.ts';

/**
 * The suites werift-rtp 0.8.9 implements. AES_CM_128_HMAC_SHA1_32 (its 32-bit
 * tag length is fixed at 10 bytes) and AEAD_AES_256_GCM (its key derivation is
 * AES-128 only) are not among them.
 */
const PROFILES: Partial<Record<SrtpSuite, number>> = {
  AEAD_AES_128_GCM: ProtectionProfileAeadAes128Gcm,
  AES_CM_128_HMAC_SHA1_80: ProtectionProfileAes128CmHmacSha1_80,
};

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
    this.overhead =
      profile === ProtectionProfileAeadAes128Gcm
        ? // RFC 7714 §9.1: SRTCP is header, ciphertext with its 16-byte tag, then E|index.
          { rtpTag: 16, rtcpIndexFromEnd: 4, rtcpTrailer: 20 }
        : // RFC 3711 §3.4: SRTCP is header, ciphertext, E|index, then the 10-byte tag.
          { rtpTag: 10, rtcpIndexFromEnd: 14, rtcpTrailer: 14 };
  }

  /** Plain RTP whose header (checked by the caller) is headerLength bytes → SRTP with the given rollover counter. */
  encryptRtp(packet: Buffer, headerLength: number, roc: number): Buffer {
    return this.send.encryptRtp(this.sendHeader.load(packet, headerLength), packet.subarray(headerLength), roc);
  }

  /** SRTP whose header (checked by the caller) is headerLength bytes → plain RTP (padding kept); throws SrtpAuthenticationError. */
  decryptRtp(packet: Buffer, headerLength: number, roc: number): Buffer {
    return this.recv.decryptRtp(packet, roc, this.recvHeader.load(packet, headerLength))[0];
  }

  /** Plain RTCP → SRTCP with E=1 and the given index. */
  encryptRtcp(packet: Buffer, index: number): Buffer {
    return this.send.encryptRTCP(packet, index);
  }

  /** SRTCP → plain RTCP; throws SrtpAuthenticationError. */
  decryptRtcp(packet: Buffer): Buffer {
    return this.recv.decryptRTCP(packet)[0];
  }
}

// SDES-SRTP for one SIP leg (RFC 3711, keys from RFC 4568 a=crypto): protects what
// the leg sends with our key, unprotects what it receives with the peer's key.
// Crypto is werift-rtp's (werift-cipher.ts); the packet index (rollover counter,
// replay list) is kept here per SSRC, the seam described in werift-cipher.ts.
import type { SrtpSuite } from '../sdp-types.ts';
import { decodeSrtpKey } from './srtp-keys.ts';
import { IndexCheck, SrtpIndexWindow } from './srtp-index-window.ts';
import { SrtpAuthenticationError, WeriftSrtpCipher } from './werift-cipher.ts';

/**
 * Peer SSRCs remembered. A peer may change SSRC mid-call (RFC 3550 §8.2 collisions,
 * a B2BUA switching sources); state is created only for packets that authenticate,
 * so only the keyholder can fill this, and the oldest is dropped. Our own SSRCs are
 * never forgotten: a forgotten sender index could be used a second time.
 */
const MAX_STREAMS = 32;
/** An SRTCP packet that does not verify under the layout tried: try the other one. */
const RETRY = Symbol('retry');
/** RFC 3711 §3.3.1/§3.4: the SRTCP index has 31 bits; a key must not go past it. */
const MAX_SRTCP_INDEX = 0x7fffffff;

export interface SrtpStats {
  /** Packets whose authentication tag did not verify (wrong key, tampered, truncated). */
  authFailures: number;
  /** Packets whose index was already received or is left of the replay window. */
  replayDropped: number;
  /** Packets too short or not RTP/RTCP version 2. */
  malformed: number;
}

/** protectRtp/protectRtcp were asked to reuse a packet index: the keystream (and for GCM the nonce) would repeat. */
export class SrtpIndexReuseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SrtpIndexReuseError';
  }
}

/** Length of the RTP header (RFC 3550 §5.1, §5.3.1) when it fits in `end` bytes, else -1. */
function rtpHeaderLength(p: Buffer, end: number): number {
  if (end < 12 || p[0] >> 6 !== 2) return -1;
  let len = 12 + (p[0] & 0x0f) * 4;
  if (p[0] & 0x10) {
    if (len + 4 > end) return -1;
    len += 4 + p.readUInt16BE(len + 2) * 4;
  }
  return len <= end ? len : -1;
}

export class SrtpSession {
  readonly stats: SrtpStats = { authFailures: 0, replayDropped: 0, malformed: 0 };
  readonly suite: SrtpSuite;
  private readonly cipher: WeriftSrtpCipher;
  private readonly rtpTag: number;
  private readonly rtcpIndexFromEnd: number;
  private readonly rtcpTrailer: number;
  private readonly sendRtp = new Map<number, SrtpIndexWindow>();
  private readonly recvRtp = new Map<number, SrtpIndexWindow>();
  private readonly sendRtcp = new Map<number, number>();
  private readonly recvRtcp = new Map<number, SrtpIndexWindow>();
  /** The MKI the peer puts in every packet (its a=crypto's `|MKI:length`), or null. */
  private readonly recvMki: { value: number; length: number } | null;
  /** The MKI we put in every packet we send (our a=crypto's), or null. */
  private readonly sendMki: Buffer | null;
  /** AES_CM_128_HMAC_SHA1_32: RTP tags of 32 bits. */
  private readonly shortRtpTag: boolean;
  /** _32: the peer's SRTCP carries a 32-bit tag too (learnt from it); ours then does. */
  private rtcpShortTag = false;
  /** A received packet with its MKI taken out (reused: the ciphers copy what they return). */
  private scratch: Buffer = Buffer.alloc(0);

  /** Throws SrtpKeyError for a key of the wrong form or length, Error for a suite this build lacks. */
  constructor(opts: { suite: SrtpSuite; sendKeyBase64: string; recvKeyBase64: string; recvMki?: { value: number; length: number }; sendMki?: { value: number; length: number } }) {
    this.suite = opts.suite;
    const send = decodeSrtpKey(opts.suite, opts.sendKeyBase64, 'send');
    const recv = decodeSrtpKey(opts.suite, opts.recvKeyBase64, 'receive');
    this.cipher = new WeriftSrtpCipher(opts.suite, send, recv);
    ({ rtpTag: this.rtpTag, rtcpIndexFromEnd: this.rtcpIndexFromEnd, rtcpTrailer: this.rtcpTrailer } = this.cipher.overhead);
    this.recvMki = opts.recvMki ?? null;
    this.shortRtpTag = opts.suite === 'AES_CM_128_HMAC_SHA1_32';
    for (const mki of [this.recvMki, opts.sendMki]) {
      if (mki && (mki.length < 1 || mki.length > 4 || opts.suite.startsWith('AEAD_'))) {
        throw new Error(`an MKI of ${mki.length} bytes on ${opts.suite} is not supported`);
      }
    }
    if (opts.sendMki) {
      this.sendMki = Buffer.alloc(opts.sendMki.length);
      this.sendMki.writeUIntBE(opts.sendMki.value, 0, opts.sendMki.length);
    } else {
      this.sendMki = null;
    }
  }

  /**
   * The packet without the peer's MKI, which RFC 3711 puts right before the
   * authentication tag (§3.1 for SRTP, §3.4 for SRTCP, after the E flag and index)
   * and leaves out of what the tag covers. The packet itself is not changed. Counted
   * and null when it is too short (malformed: `least` bytes besides the MKI), or when
   * the MKI names another master key (we know only one: as a failed authentication).
   */
  private withoutMki(packet: Buffer, tag: number, least: number, quiet?: false): Buffer | null;
  private withoutMki(packet: Buffer, tag: number, least: number, quiet: boolean): Buffer | null | typeof RETRY;
  private withoutMki(packet: Buffer, tag: number, least: number, quiet = false): Buffer | null | typeof RETRY {
    const mki = this.recvMki!;
    if (packet.length < least + mki.length) {
      this.stats.malformed++;
      return null;
    }
    const tagAt = packet.length - tag;
    const at = tagAt - mki.length;
    if (packet.readUIntBE(at, mki.length) !== mki.value) {
      if (quiet) return RETRY;
      this.stats.authFailures++;
      return null;
    }
    const n = packet.length - mki.length;
    if (this.scratch.length < n) this.scratch = Buffer.alloc(Math.max(n, 1500));
    packet.copy(this.scratch, 0, 0, at);
    packet.copy(this.scratch, at, tagAt);
    return this.scratch.subarray(0, n);
  }

  /**
   * Plain RTP → SRTP. The sender's ROC advances when the sequence number wraps
   * (RFC 3711 §3.3.1, same estimate as the receiver's, so gaps across the wrap are
   * fine). Throws on a packet that is not RTP, and SrtpIndexReuseError for an index
   * already sent (like libsrtp: the same sequence number twice under one key).
   */
  protectRtp(packet: Buffer): Buffer {
    const headerLength = rtpHeaderLength(packet, packet.length);
    if (headerLength < 0) throw new Error(`protectRtp: not an RTP packet (${packet.length} bytes)`);
    const ssrc = packet.readUInt32BE(8);
    const w = stream(this.sendRtp, ssrc, false);
    const index = w.estimateIndex(packet.readUInt16BE(2));
    if (w.check(index) !== IndexCheck.Fresh) {
      throw new SrtpIndexReuseError(`protectRtp: SSRC ${ssrc} index ${index} already sent or too far back (highest ${w.highest})`);
    }
    const out = this.cipher.encryptRtp(packet, headerLength, Math.floor(index / 0x10000));
    w.accept(index);
    return this.sendMki ? this.withMki(out, this.rtpTag) : out;
  }

  /**
   * A protected packet with our MKI put in right before its last `tag` bytes (RFC 3711 §3.1;
   * §3.4: for SRTCP that is after E|index, which the tag's bytes follow too). A new buffer:
   * the one returned may still sit in a socket's send queue when the next is made.
   */
  private withMki(p: Buffer, tag: number): Buffer {
    const mki = this.sendMki!;
    const out = Buffer.allocUnsafe(p.length + mki.length);
    const at = p.length - tag;
    p.copy(out, 0, 0, at);
    mki.copy(out, at);
    p.copy(out, at + mki.length, at);
    return out;
  }

  /** SRTP → plain RTP (RFC 3711 §3.3); null, counted in stats, for anything that does not verify. */
  unprotectRtp(received: Buffer): Buffer | null {
    const packet = this.recvMki ? this.withoutMki(received, this.rtpTag, 12 + this.rtpTag) : received;
    if (packet === null) return null;
    const headerLength = rtpHeaderLength(packet, packet.length - this.rtpTag);
    if (headerLength < 0) {
      this.stats.malformed++;
      return null;
    }
    const ssrc = packet.readUInt32BE(8);
    const w = this.recvRtp.get(ssrc);
    // A new SSRC starts at ROC 0 with s_l from its first authenticated packet (§3.3.1).
    const index = w ? w.estimateIndex(packet.readUInt16BE(2)) : packet.readUInt16BE(2);
    if (w && w.check(index) !== IndexCheck.Fresh) {
      this.stats.replayDropped++;
      return null;
    }
    let out: Buffer;
    try {
      out = this.cipher.decryptRtp(packet, headerLength, Math.floor(index / 0x10000));
    } catch (err) {
      if (err instanceof SrtpAuthenticationError) this.stats.authFailures++;
      else this.stats.malformed++;
      return null;
    }
    (w ?? stream(this.recvRtp, ssrc, true)).accept(index);
    return out;
  }

  /** Plain RTCP → SRTCP, encrypted (E=1), with the next SRTCP index of its sender SSRC (RFC 3711 §3.4). */
  protectRtcp(packet: Buffer): Buffer {
    if (packet.length < 8 || packet[0] >> 6 !== 2) throw new Error(`protectRtcp: not an RTCP packet (${packet.length} bytes)`);
    const ssrc = packet.readUInt32BE(4);
    // libsrtp's first SRTCP index is 1 as well.
    const index = (this.sendRtcp.get(ssrc) ?? 0) + 1;
    if (index > MAX_SRTCP_INDEX) throw new SrtpIndexReuseError(`protectRtcp: SRTCP index of SSRC ${ssrc} exhausted; rekey`);
    this.sendRtcp.set(ssrc, index);
    const out = this.cipher.encryptRtcp(packet, index, this.rtcpShortTag);
    return this.sendMki ? this.withMki(out, this.rtcpShortTag ? 4 : this.rtcpTrailer - 4) : out;
  }

  /** SRTCP → plain RTCP; null, counted in stats, for anything that does not verify or is replayed (§3.4). */
  unprotectRtcp(received: Buffer): Buffer | null {
    if (!this.shortRtpTag) return this.unprotectRtcpAs(received, false, false);
    // AES_CM_128_HMAC_SHA1_32: the peer's SRTCP tag has 80 bits (libsrtp's profile, Chrome)
    // or 32 (linphone, baresip). The length that authenticated last is tried first, then
    // the other; what we send follows what the peer sends.
    const first = this.unprotectRtcpAs(received, this.rtcpShortTag, true);
    if (first !== RETRY) return first;
    const second = this.unprotectRtcpAs(received, !this.rtcpShortTag, false);
    if (second !== null) this.rtcpShortTag = !this.rtcpShortTag;
    return second;
  }

  /**
   * One SRTCP layout: E|index, the MKI if any, then a tag of 80 bits (32 with `shortTag`)
   * for AES-CM; RFC 7714 §9.1's for AEAD. The tag is checked before the replay list,
   * so an index read from the wrong layout never counts as a replay. `quiet`: a packet
   * that does not verify under this layout is not counted, and RETRY is returned.
   */
  private unprotectRtcpAs(received: Buffer, shortTag: boolean, quiet: false): Buffer | null;
  private unprotectRtcpAs(received: Buffer, shortTag: boolean, quiet: true): Buffer | null | typeof RETRY;
  private unprotectRtcpAs(received: Buffer, shortTag: boolean, quiet: boolean): Buffer | null | typeof RETRY {
    const tag = shortTag ? 4 : this.rtcpTrailer - 4;
    const trailer = shortTag ? 8 : this.rtcpTrailer;
    const indexFromEnd = shortTag ? 8 : this.rtcpIndexFromEnd;
    const mkiLength = this.recvMki?.length ?? 0;
    if (quiet && (received.length < 8 + trailer + mkiLength || received[0] >> 6 !== 2)) return RETRY;
    // The MKI sits after E|index, before the tag (the AES-CM layout: no MKI on AEAD suites).
    const packet = this.recvMki ? this.withoutMki(received, tag, 8 + trailer, quiet) : received;
    if (packet === null || packet === RETRY) return packet;
    if (packet.length < 8 + trailer || packet[0] >> 6 !== 2) {
      this.stats.malformed++;
      return null;
    }
    let out: Buffer;
    try {
      out = this.cipher.decryptRtcp(packet, shortTag);
    } catch (err) {
      if (quiet) return RETRY;
      if (err instanceof SrtpAuthenticationError) this.stats.authFailures++;
      else this.stats.malformed++;
      return null;
    }
    const ssrc = packet.readUInt32BE(4);
    const index = packet.readUInt32BE(packet.length - indexFromEnd) & MAX_SRTCP_INDEX;
    const w = this.recvRtcp.get(ssrc);
    if (w && w.check(index) !== IndexCheck.Fresh) {
      this.stats.replayDropped++;
      return null;
    }
    (w ?? stream(this.recvRtcp, ssrc, true)).accept(index);
    return out;
  }
}

function evictOldest<V>(map: Map<number, V>): void {
  if (map.size < MAX_STREAMS) return;
  const oldest = map.keys().next().value;
  if (oldest !== undefined) map.delete(oldest);
}

function stream(map: Map<number, SrtpIndexWindow>, ssrc: number, evict: boolean): SrtpIndexWindow {
  let w = map.get(ssrc);
  if (!w) {
    if (evict) evictOldest(map);
    w = new SrtpIndexWindow();
    map.set(ssrc, w);
  }
  return w;
}

// RTCP wire format (RFC 3550 §6.4–§6.6): packet types, the rtcp-mux demux test,
// structural validation of a compound packet, and big-endian readers. Pure
// functions over bytes; no sockets, no allocation.

export const PT_SR = 200;
export const PT_RR = 201;
export const PT_SDES = 202;
export const PT_BYE = 203;
export const SDES_CNAME = 1;

/** Common header (§6.4.1): V, P, RC/SC, PT, length in 32-bit words minus one. */
export const HEADER_BYTES = 4;
/** Sender SSRC plus sender info (NTP 8, RTP 4, packets 4, octets 4), after the header (§6.4.1). */
export const SR_BODY_BYTES = 24;
/** Reporter SSRC, after the header (§6.4.2). */
export const RR_BODY_BYTES = 4;
/** One report block (§6.4.1): SSRC, fraction+cumulative lost, ext. highest seq, jitter, LSR, DLSR. */
export const REPORT_BLOCK_BYTES = 24;

/**
 * Cheap demux test for rtcp-mux (RFC 5761 §4): the second byte, which is M+PT in RTP,
 * is 192..223 for RTCP. Version 2 is required too, so that STUN or DTLS bytes
 * sharing the port (RFC 7983) are not taken for RTCP.
 */
export function isRtcp(packet: Uint8Array): boolean {
  if (packet.length < HEADER_BYTES || (packet[0] & 0xc0) !== 0x80) return false;
  const pt = packet[1];
  return pt >= 192 && pt <= 223;
}

export function readU32(p: Uint8Array, off: number): number {
  return ((p[off] << 24) | (p[off + 1] << 16) | (p[off + 2] << 8) | p[off + 3]) >>> 0;
}

/** Bytes of the RTCP packet starting at off, as its length field says (§6.4.1). */
export function packetBytes(p: Uint8Array, off: number): number {
  return (((p[off + 2] << 8) | p[off + 3]) + 1) * 4;
}

/**
 * True when p is a well-formed compound RTCP packet (the checks of RFC 3550 A.2,
 * made lenient where peers differ): every packet is version 2 with a type in
 * 192..223 (RFC 5761 §4), every length field stays inside the datagram and the
 * last one ends exactly at its end, padding fits inside its packet, and SR, RR and
 * BYE have room for the report blocks / sources their count field announces.
 * Unknown types (APP, XR, feedback, anything new) only need a sound header.
 * A.2's "the first packet is SR or RR" is not required: reduced-size RTCP
 * (RFC 5506) and some SIP endpoints send a lone SDES or BYE.
 */
export function isValidCompound(p: Uint8Array): boolean {
  const n = p.length;
  if (n < HEADER_BYTES) return false;
  let off = 0;
  while (off < n) {
    if (n - off < HEADER_BYTES) return false;
    if ((p[off] & 0xc0) !== 0x80) return false;
    const pt = p[off + 1];
    if (pt < 192 || pt > 223) return false;
    const len = packetBytes(p, off);
    if (len > n - off) return false;
    let body = len - HEADER_BYTES;
    if (p[off] & 0x20) {
      const pad = p[off + len - 1];
      if (pad === 0 || pad > body) return false;
      body -= pad;
    }
    const count = p[off] & 0x1f;
    if (pt === PT_SR && body < SR_BODY_BYTES + count * REPORT_BLOCK_BYTES) return false;
    if (pt === PT_RR && body < RR_BODY_BYTES + count * REPORT_BLOCK_BYTES) return false;
    if (pt === PT_BYE && body < count * 4) return false;
    off += len;
  }
  return true;
}

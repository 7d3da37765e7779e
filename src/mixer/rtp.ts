// Just enough RTP (RFC 3550 §5.1) for the mixer: header fields read in place,
// the payload located past CSRCs and the header extension (mediasoup adds
// extensions on consumers), padding removed.
export interface RtpView {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  payloadOffset: number;
  payloadEnd: number;
}

/**
 * Whether buf's header is consistent with its length (RFC 3550 §5.1): its CSRCs, header
 * extension and padding all fit, and a padding count is at least 1. Hot path: no allocation.
 */
export function rtpWellFormed(buf: Uint8Array): boolean {
  const len = buf.length;
  if (len < 12 || buf[0] >> 6 !== 2) return false;
  let off = 12 + (buf[0] & 0x0f) * 4;
  if (buf[0] & 0x10) {
    if (len < off + 4) return false;
    off += 4 + ((buf[off + 2] << 8) | buf[off + 3]) * 4;
  }
  if (buf[0] & 0x20) {
    const pad = buf[len - 1];
    return pad >= 1 && off + pad <= len;
  }
  return off <= len;
}

/** The length of a well-formed packet's payload (past CSRCs and extension, without padding). Hot path: no allocation. */
export function rtpPayloadLength(buf: Uint8Array): number {
  let off = 12 + (buf[0] & 0x0f) * 4;
  if (buf[0] & 0x10) off += 4 + ((buf[off + 2] << 8) | buf[off + 3]) * 4;
  return buf.length - off - (buf[0] & 0x20 ? buf[buf.length - 1] : 0);
}

/** Parses buf's header into view; false when buf is not an RTP packet. */
export function parseRtp(buf: Uint8Array, view: RtpView): boolean {
  if (buf.length < 12 || buf[0] >> 6 !== 2) return false;
  const pt = buf[1] & 0x7f;
  if (pt >= 72 && pt <= 79) return false; // RTCP multiplexed on the port (RFC 5761 §4)
  const cc = buf[0] & 0x0f;
  let off = 12 + cc * 4;
  if (buf[0] & 0x10) {
    if (buf.length < off + 4) return false;
    off += 4 + ((buf[off + 2] << 8) | buf[off + 3]) * 4;
  }
  let end = buf.length;
  if (buf[0] & 0x20) end -= buf[buf.length - 1];
  if (off > end) return false;
  view.payloadType = pt;
  view.marker = (buf[1] & 0x80) !== 0;
  view.seq = (buf[2] << 8) | buf[3];
  view.timestamp = ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0;
  view.ssrc = ((buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]) >>> 0;
  view.payloadOffset = off;
  view.payloadEnd = end;
  return true;
}

export function newRtpView(): RtpView {
  return { payloadType: 0, marker: false, seq: 0, timestamp: 0, ssrc: 0, payloadOffset: 0, payloadEnd: 0 };
}

/** Writes a 12-byte header at the start of buf. */
export function writeRtpHeader(buf: Uint8Array, pt: number, marker: boolean, seq: number, timestamp: number, ssrc: number): void {
  buf[0] = 0x80;
  buf[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  buf[2] = (seq >> 8) & 0xff;
  buf[3] = seq & 0xff;
  buf[4] = (timestamp >>> 24) & 0xff;
  buf[5] = (timestamp >>> 16) & 0xff;
  buf[6] = (timestamp >>> 8) & 0xff;
  buf[7] = timestamp & 0xff;
  buf[8] = (ssrc >>> 24) & 0xff;
  buf[9] = (ssrc >>> 16) & 0xff;
  buf[10] = (ssrc >>> 8) & 0xff;
  buf[11] = ssrc & 0xff;
}

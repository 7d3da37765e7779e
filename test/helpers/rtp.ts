// RTP packet build/parse for tests (RFC 3550 §5.1), and RFC 4733 event payloads.
export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

export function buildRtp(p: Omit<RtpPacket, 'marker'> & { marker?: boolean }): Buffer {
  const b = Buffer.alloc(12 + p.payload.length);
  b[0] = 0x80;
  b[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  b.writeUInt16BE(p.seq & 0xffff, 2);
  b.writeUInt32BE(p.timestamp >>> 0, 4);
  b.writeUInt32BE(p.ssrc >>> 0, 8);
  p.payload.copy(b, 12);
  return b;
}

/** Parses an RTP packet (skips CSRCs and header extensions); null for RTCP or garbage. */
export function parseRtp(b: Buffer): RtpPacket | null {
  if (b.length < 12 || b[0] >> 6 !== 2) return null;
  const pt = b[1] & 0x7f;
  if (pt >= 72 && pt <= 79) return null;
  let off = 12 + (b[0] & 0x0f) * 4;
  if (b[0] & 0x10) off += 4 + b.readUInt16BE(off + 2) * 4;
  let end = b.length;
  if (b[0] & 0x20) end -= b[b.length - 1];
  return { payloadType: pt, marker: (b[1] & 0x80) !== 0, seq: b.readUInt16BE(2), timestamp: b.readUInt32BE(4), ssrc: b.readUInt32BE(8), payload: b.subarray(off, end) };
}

/** RFC 4733 §2.3 telephone-event payload. */
export function dtmfPayload(digit: string, end: boolean, duration: number, volume = 10): Buffer {
  const code = '0123456789*#ABCD'.indexOf(digit);
  const b = Buffer.alloc(4);
  b[0] = code;
  b[1] = (end ? 0x80 : 0) | (volume & 0x3f);
  b.writeUInt16BE(duration & 0xffff, 2);
  return b;
}

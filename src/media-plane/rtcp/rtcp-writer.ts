// Writers for the RTCP packets Parley sends (RFC 3550 §6.4.1 SR, §6.4.2 RR,
// §6.5.1 SDES CNAME, §6.6 BYE). Each writes at off into a buffer sized by the
// matching *Bytes function and returns the offset past what it wrote.
import { HEADER_BYTES, PT_BYE, PT_RR, PT_SDES, PT_SR, REPORT_BLOCK_BYTES, RR_BODY_BYTES, SDES_CNAME, SR_BODY_BYTES } from './rtcp-packet.ts';

/** One reception report block (§6.4.1), fields already in wire ranges. */
export interface ReportBlock {
  ssrc: number;
  /** 8-bit fixed point, 0..255. */
  fractionLost: number;
  /** Signed; clamped to 24 bits when written. */
  cumulativeLost: number;
  /** Extended highest sequence number, reduced mod 2^32 when written. */
  extendedHighestSeq: number;
  /** Timestamp units. */
  jitter: number;
  lsr: number;
  dlsr: number;
}

export interface SenderInfo {
  ntpSeconds: number;
  ntpFraction: number;
  rtpTimestamp: number;
  /** Counts since the SSRC started; reduced mod 2^32 when written (§6.4.1 lets them wrap). */
  packetCount: number;
  octetCount: number;
}

function header(buf: Buffer, off: number, count: number, pt: number, bytes: number): void {
  buf[off] = 0x80 | count; // V=2, P=0
  buf[off + 1] = pt;
  buf.writeUInt16BE(bytes / 4 - 1, off + 2);
}

export function reportBytes(sender: boolean, blocks: number): number {
  return HEADER_BYTES + (sender ? SR_BODY_BYTES : RR_BODY_BYTES) + blocks * REPORT_BLOCK_BYTES;
}

/** SR when info is given, else RR, with at most one report block. */
export function writeReport(buf: Buffer, off: number, ssrc: number, info: SenderInfo | null, block: ReportBlock | null): number {
  const bytes = reportBytes(info !== null, block ? 1 : 0);
  header(buf, off, block ? 1 : 0, info ? PT_SR : PT_RR, bytes);
  let o = off + HEADER_BYTES;
  buf.writeUInt32BE(ssrc >>> 0, o);
  o += 4;
  if (info) {
    buf.writeUInt32BE(info.ntpSeconds >>> 0, o);
    buf.writeUInt32BE(info.ntpFraction >>> 0, o + 4);
    buf.writeUInt32BE(info.rtpTimestamp >>> 0, o + 8);
    buf.writeUInt32BE(info.packetCount >>> 0, o + 12);
    buf.writeUInt32BE(info.octetCount >>> 0, o + 16);
    o += 20;
  }
  if (block) o = writeReportBlock(buf, o, block);
  return o;
}

function writeReportBlock(buf: Buffer, off: number, b: ReportBlock): number {
  buf.writeUInt32BE(b.ssrc >>> 0, off);
  buf[off + 4] = Math.min(255, Math.max(0, b.fractionLost));
  // §6.4.1: cumulative lost is a signed 24-bit count; clamp rather than wrap.
  const lost = Math.min(0x7fffff, Math.max(-0x800000, b.cumulativeLost));
  buf.writeUIntBE(lost & 0xffffff, off + 5, 3);
  buf.writeUInt32BE(b.extendedHighestSeq >>> 0, off + 8);
  buf.writeUInt32BE(Math.min(0xffffffff, Math.floor(b.jitter)), off + 12);
  buf.writeUInt32BE(b.lsr >>> 0, off + 16);
  buf.writeUInt32BE(Math.min(0xffffffff, b.dlsr), off + 20);
  return off + REPORT_BLOCK_BYTES;
}

/** SDES with one chunk holding CNAME (§6.5.1), null-terminated and padded to 32 bits. */
export function sdesBytes(cname: Buffer): number {
  // header + SSRC + type + length + text, then at least one null octet, up to a multiple of 4
  return HEADER_BYTES + (((4 + 2 + cname.length) >> 2) + 1) * 4;
}

export function writeSdesCname(buf: Buffer, off: number, ssrc: number, cname: Buffer): number {
  const bytes = sdesBytes(cname);
  header(buf, off, 1, PT_SDES, bytes);
  buf.writeUInt32BE(ssrc >>> 0, off + 4);
  buf[off + 8] = SDES_CNAME;
  buf[off + 9] = cname.length;
  cname.copy(buf, off + 10);
  buf.fill(0, off + 10 + cname.length, off + bytes); // the chunk's end: null item type, padding
  return off + bytes;
}

export const BYE_BYTES = HEADER_BYTES + 4;

/** BYE for one source, no reason (§6.6). */
export function writeBye(buf: Buffer, off: number, ssrc: number): number {
  header(buf, off, 1, PT_BYE, BYE_BYTES);
  buf.writeUInt32BE(ssrc >>> 0, off + 4);
  return off + BYE_BYTES;
}

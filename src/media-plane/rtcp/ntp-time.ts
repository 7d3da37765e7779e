// NTP timestamps (RFC 3550 §4) for SR and the LSR/DLSR round trip (§6.4.1).
// The media plane measures time with performance.now(); wall-clock time is that
// plus an offset read from Date once per RTCP session, so that no packet or
// report reads Date and the NTP clock of a session never jumps (a jump between
// our SR and the peer's RR would corrupt the RTT).
import { performance } from 'node:perf_hooks';

/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_32 = 4_294_967_296;

/** Unix ms at performance.now() == 0, read now. */
export function wallClockOffsetMs(): number {
  return Date.now() - performance.now();
}

/** 64-bit NTP timestamp of Unix time unixMs: seconds and fraction, each uint32. */
export interface NtpTimestamp {
  seconds: number;
  fraction: number;
}

export function ntpFromUnixMs(unixMs: number, out: NtpTimestamp): NtpTimestamp {
  const wholeS = Math.floor(unixMs / 1000);
  out.seconds = (wholeS + NTP_UNIX_OFFSET_S) >>> 0; // era wrap in 2036 is what §4 specifies
  out.fraction = Math.floor(((unixMs - wholeS * 1000) / 1000) * TWO_32) >>> 0;
  return out;
}

/** The middle 32 bits of a 64-bit NTP timestamp (§6.4.1 LSR): 16.16 fixed point seconds. */
export function ntpMiddle32(seconds: number, fraction: number): number {
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

/** Milliseconds to the 1/65536 s units of DLSR and of the LSR arithmetic (§6.4.1). */
export function msToShortNtp(ms: number): number {
  return Math.round((ms * 65536) / 1000);
}

export function shortNtpToMs(units: number): number {
  return (units * 1000) / 65536;
}

// Public surface of RTCP for the RTP endpoint (RFC 3550 §6): one RtcpSession per leg.
// Times (nowMs, arrivalMs) are performance.now() milliseconds of the thread that
// owns the session; the session maps them to NTP wall-clock time itself.
export { RtcpSession, type RtcpStats, type RtcpSessionOptions } from './rtcp-session.ts';
export { isRtcp } from './rtcp-packet.ts';

// Public surface of RTCP for the RTP endpoint (RFC 3550 §6): one RtcpSession per leg.
export { RtcpSession, type RtcpStats, type RtcpSessionOptions } from './rtcp-session.ts';
export { isRtcp } from './rtcp-packet.ts';

// What offer/answer decides for one SIP leg's audio stream.
import type { CodecName } from '../mixer/codecs/audio-codec.ts';

/** The address family of a leg's media: its socket and both c= lines (RFC 4566 §5.7: IP4, IP6). */
export type IpFamily = 4 | 6;

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export const SRTP_SUITES = ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const;
export type SrtpSuite = (typeof SRTP_SUITES)[number];

export interface SrtpKey {
  /** The a=crypto tag (RFC 4568 §9.1). */
  tag: number;
  suite: SrtpSuite;
  keyBase64: string;
  /**
   * The master key identifier the key's sender puts in every SRTP and SRTCP packet
   * (RFC 4568 §6.1 `|MKI:length`, RFC 3711 §3.1), when its line has one: its value
   * and its length in bytes (1 to 4). Parley's own key has one only in an answer to a
   * line that has one (value 1, the same length: media-leg.ts keyFor).
   */
  mki?: { value: number; length: number };
}

export interface NegotiatedAudio {
  codec: CodecName;
  /** Payload type we write on packets sent to the peer (from the peer's SDP, RFC 3264 §5.1). */
  sendPt: number;
  /** Payload type the peer writes on packets it sends to us (from our SDP). */
  recvPt: number;
  /** telephone-event, when both sides have it. */
  dtmf: { sendPt: number; recvPt: number; clock: number } | null;
  /**
   * Where we send RTP (the peer's c= and m= port); null ip when the peer put 0.0.0.0 (old-style
   * hold). rtcpIp: the address of a=rtcp when it names one other than c= (RFC 3605 §2.1).
   */
  remote: { ip: string | null; port: number; rtcpPort: number | null; rtcpMux: boolean; rtcpIp?: string };
  /** The family of the peer's c= line (also for a hold address, 0.0.0.0 or ::); IPv6 addresses in canonical form (RFC 5952). */
  family: IpFamily;
  /** Our direction, as written in our SDP. */
  direction: Direction;
  /** The peer's SRTP key when the profile is RTP/SAVP. */
  remoteSrtp: SrtpKey | null;
  /**
   * The stream's profile is RTP/AVPF or RTP/SAVPF (RFC 4585, RFC 5124): Parley's answer and
   * re-offers say the same profile (baresip, for one, turns a stream off whose answer names
   * another), sending no feedback messages of its own.
   */
  feedback?: boolean;
  /** SSRCs the peer announced with a=ssrc (RFC 5576), if any. */
  remoteSsrcs: number[];
  /** The payload types the peer's SDP bound (ptKey names), kept for our later offers (RFC 3264 §8.3.2). */
  peerPts: { pt: number; key: string }[];
  /** The packet length we send the peer, in ms (its a=ptime when we can: see sdp-negotiator's sendPtimeOf). */
  sendPtime: number;
  /** Opus only: the peer's fmtp for it says useinbandfec=1 (RFC 7587 §6.1), so what Parley encodes for it carries in-band FEC. */
  sendFec?: boolean;
  /** Index of the audio m-line, and the other m-lines to reject in an answer. */
  mline: number;
  rejected: { type: string; protocol: string; fmt: string }[];
}

/** Our side of the stream, written into an offer or answer. */
export interface LocalAudio {
  ip: string;
  port: number;
  /** Our RTCP port when not multiplexed. */
  rtcpPort: number | null;
  /**
   * An offer that proposes rtcp-mux and says where RTCP goes if the answer
   * refuses it (RFC 5761 §5.1.1): both a=rtcp-mux and a=rtcp are written.
   */
  offerMux?: boolean;
  srtp: SrtpKey | null;
  /** The AVPF profile (RTP/AVPF, RTP/SAVPF) rather than AVP: in an answer to such an offer, and in re-offers of that session. */
  feedback?: boolean;
}

/** The o= line's session id and version (incremented on every new SDP, RFC 3264 §8). */
export interface SdpSessionInfo {
  sessionId: string;
  version: number;
}

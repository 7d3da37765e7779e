// The `media` section: mediasoup workers, RTP, the mixer, media threads, WebRTC.
import { isIPv4, isIPv6 } from 'node:net';
import { host, udpPortRange } from './schema-parts.ts';

export interface MediaConfig {
  /** Number of mediasoup workers; `auto` is one per core. */
  workers: number | 'auto';
  /** Path of the mediasoup-worker binary; null uses MEDIASOUP_WORKER_BIN or the build cache. */
  workerBin: string | null;
  /** The IPv4 address RTP binds to (legs whose peer is IPv4, and offers to targets of unknown family). */
  rtpIp: string;
  announcedIp: string | null;
  /** The IPv6 address RTP binds to for legs whose peer is IPv6; null: no IPv6 media (such offers get 488). */
  rtpIp6: string | null;
  /** The IPv6 address written into SDP instead of rtpIp6 (needed when rtpIp6 is ::). */
  announcedIp6: string | null;
  rtpPortRange: { min: number; max: number };
  codecs: string[];
  /**
   * Symmetric RTP: 'latch' sends to where the peer's first valid packet came
   * from (and re-latches after a re-offer or 2 s of silence), 'once' latches to
   * the first source for the leg's life, 'strict' accepts and sends only to the
   * SDP address. true/false are 'latch'/'strict'.
   */
  latching: boolean | 'latch' | 'once' | 'strict';
  /** narrowband: a room mixes at 8 kHz while all its legs are G.711 (sampleRate otherwise). */
  mixer: { sampleRate: number; narrowband: boolean; jitterMinMs: number; jitterMaxMs: number };
  /** An answered leg that sends no RTP for this long (not on hold) ends its call; 0 never. */
  rtpTimeoutSec: number;
  /** Media threads (worker_threads) that run the rooms; `auto` is one per core, 0 runs them on the main thread (debugging). */
  threads: number | 'auto';
  /**
   * In-band (Goertzel) DTMF detection on legs without telephone-event: 'auto' only
   * while a flow step waits for digits and never on a leg that sent a DTMF SIP INFO;
   * 'always' on every such leg (the API's dtmf events of every call).
   */
  inbandDtmf: 'auto' | 'always';
  /**
   * Read and send the legs' RTP through the parley-udp addon (media/native: one epoll set and
   * one call into JavaScript per batch of packets) rather than dgram (one per packet); false, or
   * an addon not built, is dgram.
   */
  nativeIo: boolean;
  /** Browsers (WebRtcTransports on a room's Router): see WebRtcConfig. */
  webrtc: WebRtcConfig;
}

export interface WebRtcConfig {
  /** false: POST /rooms/:name/webrtc answers 503. */
  enabled: boolean;
  /** Where WebRtcTransports listen (ICE-lite host candidates). */
  listenIp: string;
  /** The address written into the ICE candidates instead of listenIp (NAT, a public IP or host name); null: listenIp. */
  announcedAddress: string | null;
  /** UDP ports for WebRtcTransports (one per browser). */
  portRange: { min: number; max: number };
  /** Also offer ICE-TCP candidates (browsers behind UDP-blocking firewalls). */
  tcp: boolean;
  /** A browser session that sends nothing (RTP, RTCP, ICE consent) this long is closed; at least 10 s. */
  timeoutSec: number;
  /** Browser sessions open at once (0: no limit); past it POST /rooms/:name/webrtc answers 429. */
  maxSessions: number;
  /** Browser sessions one API token (api.tokens' name) may hold open at once (0: no limit). */
  maxSessionsPerToken: number;
}

export const mediaSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['workers', 'workerBin', 'rtpIp', 'announcedIp', 'rtpPortRange', 'codecs', 'latching', 'mixer', 'rtpTimeoutSec', 'webrtc'],
  properties: {
    workers: {
      description: 'a positive integer or "auto"',
      oneOf: [
        { type: 'integer', minimum: 1, maximum: 64 },
        { type: 'string', const: 'auto' },
      ],
    },
    workerBin: { type: 'string', nullable: true, minLength: 1 },
    rtpIp: host,
    announcedIp: { type: 'string', nullable: true, minLength: 1 },
    rtpIp6: { type: 'string', nullable: true, minLength: 1 },
    announcedIp6: { type: 'string', nullable: true, minLength: 1 },
    rtpPortRange: udpPortRange,
    codecs: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', enum: ['PCMU', 'PCMA', 'G722', 'opus'] },
    },
    latching: { description: 'latch, once, strict (or true/false)', oneOf: [{ type: 'boolean' }, { type: 'string', enum: ['latch', 'once', 'strict'] }] },
    rtpTimeoutSec: { type: 'integer', minimum: 0, maximum: 86400 },
    inbandDtmf: { description: 'auto or always', type: 'string', enum: ['auto', 'always'] },
    nativeIo: { type: 'boolean' },
    threads: {
      description: 'a number of media threads (0: rooms run on the main thread) or "auto"',
      oneOf: [
        { type: 'integer', minimum: 0, maximum: 256 },
        { type: 'string', const: 'auto' },
      ],
    },
    webrtc: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled', 'listenIp', 'announcedAddress', 'portRange', 'tcp', 'timeoutSec', 'maxSessions', 'maxSessionsPerToken'],
      properties: {
        enabled: { type: 'boolean' },
        listenIp: host,
        announcedAddress: { type: 'string', nullable: true, minLength: 1, maxLength: 253 },
        portRange: udpPortRange,
        tcp: { type: 'boolean' },
        timeoutSec: { type: 'integer', minimum: 10, maximum: 3600 },
        maxSessions: { type: 'integer', minimum: 0, maximum: 100000 },
        maxSessionsPerToken: { type: 'integer', minimum: 0, maximum: 100000 },
      },
    },
    mixer: {
      type: 'object',
      additionalProperties: false,
      required: ['sampleRate', 'jitterMinMs', 'jitterMaxMs'],
      properties: {
        sampleRate: { type: 'integer', enum: [8000, 16000, 48000] },
        narrowband: { type: 'boolean' },
        jitterMinMs: { type: 'integer', minimum: 20, maximum: 100 },
        jitterMaxMs: { type: 'integer', minimum: 20, maximum: 100 },
      },
    },
  },
} as const;

export const defaultMedia: MediaConfig = {
  workers: 'auto',
  workerBin: null,
  rtpIp: '127.0.0.1',
  announcedIp: null,
  rtpIp6: null,
  announcedIp6: null,
  rtpPortRange: { min: 40000, max: 49999 },
  codecs: ['PCMU', 'PCMA', 'G722', 'opus'],
  latching: 'latch',
  mixer: { sampleRate: 16000, narrowband: true, jitterMinMs: 20, jitterMaxMs: 100 },
  rtpTimeoutSec: 60,
  threads: 'auto',
  inbandDtmf: 'auto',
  nativeIo: true,
  webrtc: { enabled: true, listenIp: '127.0.0.1', announcedAddress: null, portRange: { min: 50000, max: 50999 }, tcp: false, timeoutSec: 30, maxSessions: 200, maxSessionsPerToken: 20 },
};

/**
 * The media addresses, checked beyond their shape: each family in its own key
 * (a socket of one family cannot reach the other), and never an unspecified
 * address in SDP (c=IN IP4 0.0.0.0 and c=IN IP6 :: mean hold, RFC 3264 §8.4).
 */
export function mediaAddressChecks(m: MediaConfig): string[] {
  const problems: string[] = [];
  if (isIPv6(m.rtpIp)) problems.push(`media.rtpIp: ${m.rtpIp} is an IPv6 address; IPv4 media binds to media.rtpIp, IPv6 media to media.rtpIp6`);
  else if (!isIPv4(m.rtpIp)) problems.push(`media.rtpIp: must be an IPv4 address (${m.rtpIp} is not)`);
  else if (m.rtpIp === '0.0.0.0' && m.announcedIp === null) problems.push('media.announcedIp: required when media.rtpIp is 0.0.0.0 (c=IN IP4 0.0.0.0 in SDP means hold)');
  if (m.announcedIp !== null && isIPv6(m.announcedIp)) problems.push(`media.announcedIp: ${m.announcedIp} is an IPv6 address; announce IPv6 media with media.announcedIp6`);
  if (m.rtpIp6 !== null) {
    if (!isIPv6(m.rtpIp6) || m.rtpIp6.includes('%')) problems.push(`media.rtpIp6: must be an IPv6 address without a zone, or null for no IPv6 media (${m.rtpIp6} is not)`);
    else if (isUnspecified6(m.rtpIp6) && m.announcedIp6 === null) problems.push('media.announcedIp6: required when media.rtpIp6 is :: (c=IN IP6 :: in SDP means hold)');
  }
  if (m.announcedIp6 !== null) {
    if (!isIPv6(m.announcedIp6) || m.announcedIp6.includes('%') || isUnspecified6(m.announcedIp6)) problems.push(`media.announcedIp6: must be an IPv6 address other than :: (${m.announcedIp6} is not)`);
    else if (m.rtpIp6 === null) problems.push('media.announcedIp6: needs media.rtpIp6 (the IPv6 address media binds to)');
  }
  return problems;
}

function isUnspecified6(ip: string): boolean {
  return /^[0:]+$/.test(ip);
}

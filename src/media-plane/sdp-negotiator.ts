// SDP offer/answer (RFC 3264) for SIP audio legs, with sdp-transform.
// Pure functions: no sockets, no mediasoup; the leg applies the result.
import { isIPv6, SocketAddress } from 'node:net';
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { CODECS, codecByName, type CodecName } from '../mixer/codecs/audio-codec.ts';
import { opusEngine } from '../mixer/codecs/opus-engine.ts';
import { SdpNegotiationError } from './media-errors.ts';
import { parseCrypto } from './sdp-crypto.ts';
import { type Direction, type IpFamily, type LocalAudio, type NegotiatedAudio, type SdpSessionInfo, type SrtpKey } from './sdp-types.ts';

/** Payload types Parley uses in its own offers (dynamic ones are the common choices). */
export const OFFER_PT: Record<CodecName, number> = { PCMU: 0, PCMA: 8, G722: 9, opus: 111 };
export const OFFER_DTMF_PT: Record<number, number> = { 8000: 101, 48000: 110 };

/** The payload types an offer of ours gives each codec and each telephone-event clock. */
export interface OfferPts {
  codecs: Record<CodecName, number>;
  dtmf: Record<number, number>;
}

export const DEFAULT_OFFER_PTS: OfferPts = { codecs: OFFER_PT, dtmf: OFFER_DTMF_PT };

/** How a payload type is named in a session's PT bindings: encoding name (lower case) and clock. */
export function ptKey(name: string, clock: number): string {
  return `${name.toLowerCase()}/${clock}`;
}

const DIRECTIONS: Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

/** What the local media side can reach: IPv6 peers only when it has an IPv6 RTP address (media.rtpIp6). */
export interface NegotiateOptions {
  ipv6: boolean;
  /**
   * The family the peer must use (an answer: our offer's socket is bound in one
   * family and the peer sends to the address in it, so the answer cannot move it).
   */
  family?: IpFamily;
}

const IPV4_ONLY: NegotiateOptions = { ipv6: false };

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isPort(p: unknown): boolean {
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535;
}

/** A port outside 0..65535 (RFC 4566 §5.14) makes the whole description malformed. */
function checkPorts(session: SessionDescription): void {
  for (const m of session.media) {
    if (!isPort(m.port)) throw new SdpNegotiationError(`m=${m.type} port ${String(m.port)} is not in 0..65535`, 399);
    if (m.rtcp && !isPort(m.rtcp.port)) throw new SdpNegotiationError(`a=rtcp port ${String(m.rtcp.port)} is not in 0..65535`, 399);
  }
}

function parse(sdp: string): SessionDescription {
  let s: SessionDescription;
  try {
    s = sdpTransform.parse(sdp);
  } catch (err) {
    throw new SdpNegotiationError(`unparsable SDP: ${(err as Error).message}`, 399);
  }
  if (!s || !Array.isArray(s.media)) throw new SdpNegotiationError('SDP without media', 304);
  // An m= line sdp-transform could not read leaves an entry without type or port: named as written.
  const mlines = sdp.split(/\r?\n/).filter((l) => l.startsWith('m='));
  s.media.forEach((m, i) => {
    if (typeof m.type !== 'string' || m.port === undefined) {
      const line = (mlines[i] ?? 'm=').slice(0, 80);
      const count = /^m=\S+ \d+\/\d+ /.test(line) ? ' (a port count, RFC 4566 §5.14, is not supported)' : '';
      throw new SdpNegotiationError(`cannot read "${line}"${count}`, 399);
    }
  });
  return s;
}

function isRtpProfile(protocol: string): 'plain' | 'srtp' | null {
  const p = protocol.toUpperCase();
  if (p === 'RTP/AVP' || p === 'RTP/AVPF') return 'plain';
  if (p === 'RTP/SAVP' || p === 'RTP/SAVPF') return 'srtp';
  return null;
}

function mediaDirection(session: SessionDescription, m: MediaDescription): Direction {
  const d = m.direction ?? (session as { direction?: string }).direction;
  return DIRECTIONS.includes(d as Direction) ? (d as Direction) : 'sendrecv';
}

/** Our direction given the peer's (RFC 3264 §6.1). */
function reverse(d: Direction): Direction {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}

function rtpmap(m: MediaDescription, pt: number): { codec: string; rate?: number; encoding?: number } | undefined {
  return m.rtp.find((r) => r.payload === pt);
}

/** Codec of a payload type: rtpmap first, then the RFC 3551 static table (whose entries are mono). */
function codecOf(m: MediaDescription, pt: number): { name: string; rate: number; channels: number | null } | null {
  const r = rtpmap(m, pt);
  if (r) return { name: r.codec, rate: r.rate ?? 8000, channels: r.encoding ?? null };
  for (const c of Object.values(CODECS)) if (c.staticPt === pt) return { name: c.name, rate: c.rtpClock, channels: null };
  return null;
}

/**
 * Whether the channel count of an rtpmap (its encoding parameters, RFC 4566 §6) is one the codec
 * is run with. G.711 and G.722 are mono here: `PCMU/8000/2` is another format (RFC 3551 §4.1:
 * samples of the channels interleaved), which read as mono would be noise at half speed, so it
 * is not chosen (RFC 3264 §6.1: an answer keeps the offer's encoding of each format). Opus is
 * always `/2` in SDP (RFC 7587 §7); one written without it is taken as before.
 */
function channelsFit(codec: CodecName, channels: number | null): boolean {
  if (channels === null) return true;
  return codec === 'opus' ? channels === CODECS.opus.sdpChannels : channels === 1;
}

/** The m-line's payload types that RTP can carry (0..127, RFC 3550 §5.1: 7 bits); others are never chosen. */
function payloadList(m: MediaDescription): number[] {
  return String(m.payloads ?? '')
    .trim()
    .split(/\s+/)
    .filter((x) => /^\d{1,3}$/.test(x) && Number(x) <= 127)
    .map(Number);
}

/**
 * The stream's address (null for hold: 0.0.0.0, ::) and family. An address that
 * is not an IPv4 dotted quad or an IPv6 address, one of a family the local side
 * cannot reach, or (in an answer) one of another family than our offer's is
 * refused with 301 (incompatible network address formats, RFC 3261 §20.43).
 * IPv6 addresses are written the way the socket reports sources (RFC 5952), so
 * latching and the RTCP source check compare like with like.
 */
function connectionIp(session: SessionDescription, m: MediaDescription, opts: NegotiateOptions): { ip: string | null; family: IpFamily } {
  const c = m.connection ?? session.connection;
  if (!c) throw new SdpNegotiationError('no c= line for the audio stream', 399);
  const family: IpFamily = c.version === 6 ? 6 : 4;
  let ip: string;
  if (family === 6) {
    if (!isIPv6(c.ip) || c.ip.includes('%')) throw new SdpNegotiationError(`c=IN IP6 ${c.ip.slice(0, 40)} is not an IPv6 address`, 301);
    if (!opts.ipv6) throw new SdpNegotiationError('IPv6 media is not supported here: no IPv6 media address is configured', 301);
    ip = new SocketAddress({ address: c.ip, family: 'ipv6' }).address;
  } else {
    if (!DOTTED_QUAD.test(c.ip)) throw new SdpNegotiationError(`c=IN IP4 ${c.ip.slice(0, 40)} is not an IPv4 address`, 301);
    ip = c.ip;
  }
  if (opts.family !== undefined && opts.family !== family) {
    throw new SdpNegotiationError(`c=IN IP${family} in an answer to an offer made in IP${opts.family}`, 301);
  }
  return { ip: ip === '0.0.0.0' || ip === '::' ? null : ip, family };
}

/**
 * The address of `a=rtcp:PORT IN IP4 ADDR` (RFC 3605 §2.1: RTCP goes to that address, not c='s)
 * when it names one other than c=. One of another family than c= cannot be reached from the
 * leg's socket, and 0.0.0.0 or a name is no address to send to: RTCP then goes to c= as before.
 */
function rtcpAddress(m: MediaDescription, family: IpFamily, ip: string | null): string | undefined {
  const a = m.rtcp?.address;
  if (a === undefined || ip === null || m.rtcp?.netType !== 'IN') return undefined;
  let addr: string;
  if (family === 6) {
    if (Number(m.rtcp.ipVer) !== 6 || !isIPv6(a) || a.includes('%')) return undefined;
    addr = new SocketAddress({ address: a, family: 'ipv6' }).address;
    if (addr === '::') return undefined;
  } else {
    if (Number(m.rtcp.ipVer) !== 4 || !DOTTED_QUAD.test(a) || a === '0.0.0.0') return undefined;
    addr = a;
  }
  return addr === ip ? undefined : addr;
}

/**
 * Picks the telephone-event entry of the peer's m-line, preferring the audio codec's clock,
 * else the first at 8, 16 or 48 kHz: phones offering G.722 often list telephone-event/16000
 * (its sampling rate, not its RTP clock, RFC 3551 §4.5.2), and Parley only receives events,
 * reading their durations at the clock negotiated.
 */
function pickDtmf(m: MediaDescription, payloads: number[], clock: number): { pt: number; clock: number } | null {
  let fallback: { pt: number; clock: number } | null = null;
  for (const pt of payloads) {
    const r = rtpmap(m, pt);
    if (!r || r.codec.toLowerCase() !== 'telephone-event') continue;
    const rate = r.rate ?? 8000;
    if (rate === clock) return { pt, clock: rate };
    if (!fallback && (rate === 8000 || rate === 16000 || rate === 48000)) fallback = { pt, clock: rate };
  }
  return fallback;
}

/**
 * The packet length we send the peer (ms): its a=ptime (the packets it wants, RFC 4566 §6;
 * in an answer to us or in its offer, which our answer then repeats), capped by a=maxptime,
 * when it is 10..60 in steps of 10 and the codec is G.711 or G.722 (bytes that cut anywhere);
 * else 20, as for opus.
 */
function sendPtimeOf(session: SessionDescription, m: MediaDescription, codec: CodecName): number {
  if (codec === 'opus') return 20;
  const level = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const s = session as { ptime?: unknown; maxptime?: unknown };
  let p = level(m.ptime) ?? level(s.ptime) ?? 20;
  const max = level(m.maxptime) ?? level(s.maxptime);
  if (max !== null && max >= 10 && p > max) p = Math.floor(max / 10) * 10;
  return Number.isInteger(p) && p % 10 === 0 && p >= 10 && p <= 60 ? p : 20;
}

/** Whether the peer's fmtp for payload type `pt` asks for Opus in-band FEC (useinbandfec=1, RFC 7587 §6.1; absent: 0). */
function wantsFec(m: MediaDescription, pt: number): boolean {
  const line = (m.fmtp ?? []).find((f) => f.payload === pt);
  return line !== undefined && /(?:^|;)\s*useinbandfec\s*=\s*1\s*(?:;|$)/i.test(line.config);
}

/** The payload types the peer's m-line binds (rtpmap, else the static table), which the session keeps (RFC 3264 §8.3.2). */
function peerBindings(m: MediaDescription, payloads: number[]): { pt: number; key: string }[] {
  const out: { pt: number; key: string }[] = [];
  for (const pt of payloads) {
    const c = codecOf(m, pt);
    if (c) out.push({ pt, key: ptKey(c.name, c.rate) });
  }
  return out;
}

/**
 * Decides how to answer an offer. Throws SdpNegotiationError (→ 488) when no
 * audio stream has a codec from `codecs`, or when SRTP is required but no
 * usable key is offered.
 */
export function negotiateOffer(offer: string, codecs: readonly CodecName[], opts: NegotiateOptions = IPV4_ONLY): NegotiatedAudio {
  const session = parse(offer);
  checkPorts(session);
  const rejected: NegotiatedAudio['rejected'] = [];
  let chosen: NegotiatedAudio | null = null;
  let why = 'no audio stream in the offer';
  session.media.forEach((m, index) => {
    const reject = (): void => {
      rejected.push({ type: m.type, protocol: m.protocol, fmt: payloadList(m)[0]?.toString() ?? String(m.payloads ?? '0').split(' ')[0] });
    };
    if (chosen || m.type !== 'audio' || m.port === 0) return reject();
    const profile = isRtpProfile(m.protocol);
    if (!profile) {
      why = `unsupported transport ${m.protocol}`;
      return reject();
    }
    const payloads = payloadList(m);
    let codec: CodecName | null = null;
    let pt = -1;
    for (const p of payloads) {
      const c = codecOf(m, p);
      const known = c ? codecByName(c.name) : undefined;
      if (!known || !codecs.includes(known.name) || c!.rate !== known.rtpClock || !channelsFit(known.name, c!.channels)) continue;
      codec = known.name;
      pt = p;
      break;
    }
    if (!codec) {
      why = 'no common audio codec';
      return reject();
    }
    let remoteSrtp: SrtpKey | null = null;
    if (profile === 'srtp') {
      remoteSrtp = parseCrypto(m);
      if (!remoteSrtp) {
        why = 'RTP/SAVP without a supported a=crypto line';
        return reject();
      }
    }
    const dtmf = pickDtmf(m, payloads, CODECS[codec].rtpClock);
    const { ip, family } = connectionIp(session, m, opts);
    const rtcpMux = m.rtcpMux !== undefined;
    // Without rtcp-mux, RTCP goes to a=rtcp's port or the next one (RFC 3605, RFC 3550 §11): a
    // datagram to port 0 or 65536 throws in the sending thread, so such an offer is refused here.
    const rtcpPort = rtcpMux ? null : (m.rtcp?.port ?? m.port + 1);
    if (rtcpPort !== null && (rtcpPort < 1 || rtcpPort > 65535)) {
      throw new SdpNegotiationError(`no RTCP port: ${m.rtcp ? `a=rtcp:${rtcpPort}` : `m=audio ${m.port} + 1`} is not in 1..65535 and rtcp-mux is not offered`, 399);
    }
    const rtcpIp = rtcpMux ? undefined : rtcpAddress(m, family, ip);
    let direction = reverse(mediaDirection(session, m));
    if (ip === null && (direction === 'sendrecv' || direction === 'sendonly')) {
      // c=0.0.0.0 (RFC 3264 §8.4, the RFC 2543 way of holding): do not send.
      direction = direction === 'sendrecv' ? 'recvonly' : 'inactive';
    }
    chosen = {
      codec,
      sendPt: pt,
      recvPt: pt,
      dtmf: dtmf ? { sendPt: dtmf.pt, recvPt: dtmf.pt, clock: dtmf.clock } : null,
      remote: rtcpIp === undefined ? { ip, port: m.port, rtcpPort, rtcpMux } : { ip, port: m.port, rtcpPort, rtcpMux, rtcpIp },
      family,
      direction,
      remoteSrtp,
      feedback: m.protocol.toUpperCase().endsWith('F'),
      remoteSsrcs: [...new Set((m.ssrcs ?? []).map((s) => Number(s.id)))],
      peerPts: peerBindings(m, payloads),
      sendPtime: sendPtimeOf(session, m, codec),
      sendFec: codec === 'opus' && wantsFec(m, pt),
      mline: index,
      rejected: [],
    };
  });
  if (!chosen) throw new SdpNegotiationError(why, why.startsWith('no common') ? 305 : 304);
  const result: NegotiatedAudio = chosen;
  result.rejected = rejected;
  return result;
}

function header(local: LocalAudio, s: SdpSessionInfo): string[] {
  const ipVer = local.ip.includes(':') ? 'IP6' : 'IP4';
  return ['v=0', `o=parley ${s.sessionId} ${s.version} IN ${ipVer} ${local.ip}`, 's=parley', `c=IN ${ipVer} ${local.ip}`, 't=0 0'];
}

function audioLines(local: LocalAudio, direction: Direction, rtpmaps: { pt: number; name: string; rate: number; channels?: number; fmtp?: string }[], ptime = 20): string[] {
  const proto = `RTP/${local.srtp ? 'S' : ''}AVP${local.feedback ? 'F' : ''}`;
  const lines = [`m=audio ${local.port} ${proto} ${rtpmaps.map((r) => r.pt).join(' ')}`];
  for (const r of rtpmaps) {
    lines.push(`a=rtpmap:${r.pt} ${r.name}/${r.rate}${r.channels && r.channels > 1 ? '/' + r.channels : ''}`);
    if (r.fmtp) lines.push(`a=fmtp:${r.pt} ${r.fmtp}`);
  }
  lines.push(`a=ptime:${ptime}`);
  if (local.rtcpPort !== null) lines.push(`a=rtcp:${local.rtcpPort}`);
  if (local.rtcpPort === null || local.offerMux) lines.push('a=rtcp-mux');
  if (local.srtp) {
    // An MKI (symmetric, in an answer only) after the lifetime, as the offers that have one write it.
    const mki = local.srtp.mki ? `|2^31|${local.srtp.mki.value}:${local.srtp.mki.length}` : '';
    lines.push(`a=crypto:${local.srtp.tag} ${local.srtp.suite} inline:${local.srtp.keyBase64}${mki}`);
  }
  lines.push(`a=${direction}`);
  return lines;
}

function codecRtpmap(codec: CodecName, pt: number): { pt: number; name: string; rate: number; channels?: number; fmtp?: string } {
  const info = CODECS[codec];
  return { pt, name: info.name, rate: info.rtpClock, channels: info.sdpChannels, fmtp: codec === 'opus' ? opusFmtp() : undefined };
}

/**
 * Opus's parameters in Parley's SDP: useinbandfec=1 (RFC 7587 §6.1: the sender should
 * put in-band FEC in its packets) where Parley's libopus decodes it (the parley-opus addon).
 */
function opusFmtp(): string {
  return `minptime=20;useinbandfec=${opusEngine().native ? 1 : 0}`;
}

/**
 * Our answer: the one chosen codec plus telephone-event, other m-lines rejected with port 0
 * (RFC 3264 §6); its a=ptime is the packet length we send (the offer's, see sendPtimeOf).
 */
export function buildAnswer(n: NegotiatedAudio, local: LocalAudio, s: SdpSessionInfo): string {
  const lines = header(local, s);
  const maps = [codecRtpmap(n.codec, n.recvPt)];
  if (n.dtmf) maps.push({ pt: n.dtmf.recvPt, name: 'telephone-event', rate: n.dtmf.clock, fmtp: '0-16' });
  const total = n.rejected.length + 1;
  let r = 0;
  for (let i = 0; i < total; i++) {
    if (i === n.mline) lines.push(...audioLines({ ...local, feedback: n.feedback === true }, n.direction, maps, n.sendPtime));
    else {
      const m = n.rejected[r++];
      lines.push(`m=${m.type} 0 ${m.protocol} ${m.fmt}`);
    }
  }
  return lines.join('\r\n') + '\r\n';
}

/**
 * Our offer: every codec of `codecs`, telephone-event at 8 kHz (and 48 kHz with opus), with
 * the payload types of `pts` (a re-offer passes the ones its session bound already).
 */
export function buildOffer(codecs: readonly CodecName[], local: LocalAudio, s: SdpSessionInfo, direction: Direction = 'sendrecv', pts: OfferPts = DEFAULT_OFFER_PTS): string {
  const maps = codecs.map((c) => codecRtpmap(c, pts.codecs[c]));
  maps.push({ pt: pts.dtmf[8000], name: 'telephone-event', rate: 8000, fmtp: '0-16' });
  if (codecs.includes('opus')) maps.push({ pt: pts.dtmf[48000], name: 'telephone-event', rate: 48000, fmtp: '0-16' });
  return [...header(local, s), ...audioLines(local, direction, maps)].join('\r\n') + '\r\n';
}

/**
 * Reads the answer to our offer. The answerer picks from what we offered; we
 * send with its payload types and it sends with ours (RFC 3264 §5.1, §6.1).
 */
export function parseAnswer(
  answer: string,
  offeredCodecs: readonly CodecName[],
  offeredSrtp: SrtpKey | null,
  opts: NegotiateOptions = IPV4_ONLY,
  offeredPts: OfferPts = DEFAULT_OFFER_PTS,
): NegotiatedAudio {
  const n = negotiateOffer(answer, offeredCodecs, opts);
  n.recvPt = offeredPts.codecs[n.codec];
  if (n.dtmf) {
    const ours = offeredPts.dtmf[n.dtmf.clock];
    if (ours === undefined) n.dtmf = null;
    else n.dtmf.recvPt = ours;
  }
  // In an answer the direction attribute is the answerer's; ours is its reverse, computed already.
  if (offeredSrtp && !n.remoteSrtp) throw new SdpNegotiationError('answer dropped SRTP', 304);
  if (!offeredSrtp && n.remoteSrtp) throw new SdpNegotiationError('answer added SRTP to a plain RTP offer', 304);
  return n;
}

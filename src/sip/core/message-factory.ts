// Small builders shared by the core handlers: UAS responses (§8.2.6), branches, where a
// response or request goes (§18.2.2, RFC 3263 in sip-resolver.ts), and control meta.
import { randomHex } from '../message/random-hex.ts';
import { isIP } from 'node:net';
import { formatHostPort } from '../message/header-values.ts';
import { SipMessage } from '../message/sip-message.ts';
import { MAGIC_COOKIE } from '../transaction/transaction-layer.ts';
import type { ListeningPoint } from '../transport/transport-layer.ts';
import { isStream, type Endpoint, type Inbound, type TransportName } from '../transport/transport-types.ts';
import type { Dialog } from '../dialog/dialog.ts';
import type { SipResolver } from './sip-resolver.ts';

export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 183: 'Session Progress', 200: 'OK', 202: 'Accepted',
  400: 'Bad Request', 405: 'Method Not Allowed', 406: 'Not Acceptable', 408: 'Request Timeout',
  415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme', 420: 'Bad Extension',
  481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops',
  487: 'Request Terminated', 491: 'Request Pending', 500: 'Server Internal Error',
  501: 'Not Implemented', 503: 'Service Unavailable', 505: 'Version Not Supported', 513: 'Message Too Large',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? 'Unknown';
}

/** §8.2.6.2: a response copies Via, From, To (plus our tag), Call-ID and CSeq from the request. */
export function makeResponse(req: SipMessage, status: number, reason = reasonPhrase(status), toTag: string | null = null): SipMessage {
  const res = SipMessage.response(status, reason);
  for (const v of req.getAll('Via')) res.add('Via', v);
  const from = req.get('From');
  if (from !== undefined) res.add('From', from);
  const to = req.get('To');
  if (to !== undefined) {
    // §8.2.6.2: a tag is added unless the request had one; never to a 100 Trying.
    const hasTag = /;\s*tag=/i.test(to);
    res.add('To', toTag && !hasTag && status > 100 ? `${to};tag=${toTag}` : to);
  }
  const callId = req.get('Call-ID');
  if (callId !== undefined) res.add('Call-ID', callId);
  const cseq = req.get('CSeq');
  if (cseq !== undefined) res.add('CSeq', cseq);
  return res;
}

export function newBranch(): string {
  return MAGIC_COOKIE + randomHex(8);
}

/** §18.2.1 and RFC 3581: note where a request really came from in its top Via. */
export function stampReceived(req: SipMessage, inbound: Inbound): void {
  req.sourceAddress = inbound.source.address;
  const idx = req.headers.findIndex((h) => h.name === 'Via');
  if (idx === -1) return;
  const via = req.topVia;
  let value = req.headers[idx].value;
  // A `received` the sender wrote itself is no address we saw: responses follow `received`
  // (§18.2.2), so one naming a third party would turn Parley into a reflector. Replaced by
  // the packet's source when the sent-by is not it (the top Via's parameters come first).
  if (via.params.has('received')) value = value.replace(/;\s*received\s*=\s*[^;,\s]*/i, '');
  if (via.host !== inbound.source.address) value += `;received=${inbound.source.address}`;
  if (via.params.has('rport') && !via.params.get('rport')) value = value.replace(/;\s*rport(?=;|$)/i, `;rport=${inbound.source.port}`);
  req.headers[idx] = { name: 'Via', value };
}

/** §18.2.2: where a response to `req` goes. Reliable transports reuse the request's connection. */
/**
 * Whether a malformed request is SIP enough to answer: a Via, or two of From, To, Call-ID and
 * CSeq. `HELLO WORLD` or a bare request line is not: junk, sent from a forged source address
 * or not, gets nothing back.
 */
export function looksLikeSip(req: SipMessage): boolean {
  if (req.has('Via')) return true;
  return ['From', 'To', 'Call-ID', 'CSeq'].filter((h) => req.has(h)).length >= 2;
}

export function responseDestination(req: SipMessage, inbound: Inbound): { dest: Endpoint; connectionId: string | null } {
  if (isStream(inbound.source.transport)) {
    // The request's connection; once it is gone, a new one to the source address at the Via's
    // sent-by port (§18.2.2), where the sender listens: not the closed connection's own port.
    const tls = inbound.source.transport === 'tls';
    const port = (req.has('Via') ? req.topVia.port : null) ?? (tls ? 5061 : 5060);
    return { dest: { ...inbound.source, port }, connectionId: inbound.connectionId };
  }
  // A request without a Via (answered 400 for it) has only its source to be answered at.
  if (!req.has('Via')) return { dest: inbound.source, connectionId: null };
  const via = req.topVia;
  const rport = via.params.get('rport');
  return {
    dest: {
      transport: 'udp',
      address: via.params.get('received') ?? (isIP(via.host) ? via.host : inbound.source.address),
      port: rport ? Number(rport) : via.port ?? 5060,
    },
    connectionId: null,
  };
}

/** The first place a request to `uri` goes (RFC 3263, sip-resolver.ts); `requestUri`: the request's, when `uri` is a Route. */
export async function uriDestination(resolver: SipResolver, uri: string, fallback: TransportName = 'udp', requestUri?: string | null): Promise<Endpoint> {
  return (await resolver.destinations(uri, fallback, requestUri))[0]!;
}

/** Where an in-dialog request goes: the dialog's NAT flow when it has one (nat-flow.ts), else its next hop. */
export async function dialogDestination(d: Dialog, resolver: SipResolver): Promise<Endpoint> {
  return d.natFlow ? { ...d.natFlow } : uriDestination(resolver, d.nextHopUri, d.transport, d.remoteTarget);
}

export function viaFor(lp: ListeningPoint, branch: string): string {
  return `SIP/2.0/${lp.transport.toUpperCase()} ${formatHostPort(lp.host, lp.port)};rport;branch=${branch}`;
}

/**
 * Our Contact on that listener. `sips` when the dialog asks for it (§8.1.1.8, §12.1.1: a SIPS
 * Request-URI or top Record-Route wants a SIPS Contact back); else TCP and TLS say their transport.
 */
export function contactFor(lp: ListeningPoint, sips = false): string {
  const hp = formatHostPort(lp.host, lp.port);
  if (sips && lp.transport === 'tls') return `<sips:${hp}>`;
  return `<sip:${hp}${lp.transport === 'udp' ? '' : `;transport=${lp.transport}`}>`;
}

/** §16.6 step 4: our Record-Route for the listener the request arrived on. */
export function recordRouteFor(lp: ListeningPoint, sips = false): string {
  const hp = formatHostPort(lp.host, lp.port);
  if (sips && lp.transport === 'tls') return `<sips:${hp};lr>`;
  return `<sip:${hp};lr${lp.transport === 'udp' ? '' : `;transport=${lp.transport}`}>`;
}

/** A dialog whose remote target is SIPS keeps SIPS Contacts in its requests (§8.1.1.8, §12.1). */
export function isSecure(d: { remoteTarget: string }): boolean {
  return /^\s*sips:/i.test(d.remoteTarget);
}

/** §8.1.1.8: a request whose Request-URI or top Route (or Record-Route) is SIPS. */
export function wantsSips(req: SipMessage): boolean {
  const first = req.get('Record-Route') ?? req.get('Route');
  return /^\s*sips:/i.test(req.uri ?? '') || (first !== undefined && /^[^<]*<\s*sips:/i.test(first));
}

/** drachtio's time token: hh:mm:ss.uuuuuu. */
export function stackTime(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
}

/** meta6: source|bytes|proto|address|port|time. */
export function meta6(source: 'network' | 'application', bytes: number, proto: string, address: string, port: number): string {
  return `${source}|${bytes}|${proto}|${address}|${port}|${stackTime()}`;
}

/** §20.15: `Content-Type: application/sdp` when the app's body is SDP and it named no type. */
export function ensureSdpType(msg: SipMessage): void {
  if (msg.body.length && !msg.has('Content-Type') && msg.body.subarray(0, 3).toString('latin1') === 'v=0') {
    msg.add('Content-Type', 'application/sdp');
  }
}

export function formatHostPortForControl(host: string, port: number): string {
  return formatHostPort(host, port);
}

/** §9.1: a CANCEL copies the INVITE's Request-URI, Call-ID, From, To, CSeq number, top Via and Route. */
export function cancelFor(inv: SipMessage): SipMessage {
  const cancel = SipMessage.request('CANCEL', inv.uri ?? '');
  cancel.add('Via', inv.get('Via') ?? '');
  for (const r of inv.getAll('Route')) cancel.add('Route', r);
  cancel.add('Max-Forwards', '70');
  for (const n of ['From', 'To', 'Call-ID']) cancel.add(n, inv.get(n) ?? '');
  cancel.add('CSeq', `${inv.cseq.seq} CANCEL`);
  return cancel;
}

// A To that would bring the B leg straight back to Parley. A phone that uses Parley as its
// outbound proxy may keep the callee's port out of To and put it in the Request-URI only
// (linphonec does): `To: <sip:bob@127.0.0.1>`, `INVITE sip:bob@127.0.0.1:5070`. Bridged to
// the original To, the B leg would go to port 5060 of that host, Parley itself on loopback,
// come back with the loop marker, be proxied to itself again and fail with 482.

import { sipUriOrNull } from '../sip/message/header-values.ts';

/** `host:port` as drachtio reports where a request arrived (an IPv6 address unbracketed). */
function splitReceivedOn(receivedOn: string): { host: string; port: number } | null {
  const colon = receivedOn.lastIndexOf(':');
  if (colon <= 0) return null;
  const port = Number(receivedOn.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0) return null;
  return { host: receivedOn.slice(0, colon).replace(/^\[|\]$/g, '').toLowerCase(), port };
}

/** The host and port a sip:/sips: URI is sent to (no port: 5060, or 5061 for sips: and TLS). */
function uriHostPort(uri: string): { host: string; port: number } | null {
  const u = sipUriOrNull(uri);
  if (!u) return null;
  const tls = u.scheme === 'sips' || u.params.get('transport')?.toLowerCase() === 'tls';
  return { host: u.host.toLowerCase(), port: u.port ?? (tls ? 5061 : 5060) };
}

function pointsAt(uri: string, at: { host: string; port: number }): boolean {
  const hp = uriHostPort(uri);
  return hp !== null && hp.host === at.host && hp.port === at.port;
}

/**
 * True when the original To names the very address the INVITE arrived on while the
 * Request-URI names another one, and no outbound proxy routes the B legs (a proxy may
 * route a To in Parley's domain by its user): the B leg then goes to the Request-URI.
 */
export function toLoopsBack(o: { to: string; requestUri: string; receivedOn?: string | null; outboundProxy?: string | null }): boolean {
  if (o.outboundProxy || !o.receivedOn) return false;
  const at = splitReceivedOn(o.receivedOn);
  if (!at) return false;
  return pointsAt(o.to, at) && !pointsAt(o.requestUri, at);
}

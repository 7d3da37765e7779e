// The Contact of Parley's 2xx to a SIPREC INVITE carries the `+sip.srs` feature tag
// (RFC 7866 §6.1.1: the SRS SHOULD include it in the Contact of its responses), so the
// SRC knows it reached a recording server. The SIP server fills in a plain Contact when
// the app gives none; to add the tag the app names its own address: the one the
// INVITE arrived on (drachtio reports it as `receivedOn`), or, when that is a wildcard
// bind address, the Request-URI's host and port (the address the SRC used); with
// sip.externalIp set, that address on the port the INVITE arrived on.

import { sipUriOrNull } from '../sip/message/header-values.ts';

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

/** `receivedOn` as drachtio gives it: `address:port` (an IPv6 address unbracketed: the port is after the last colon). */
function splitReceivedOn(receivedOn: string): { host: string; port: string } | null {
  const colon = receivedOn.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = receivedOn.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = receivedOn.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port) || WILDCARD.has(host)) return null;
  return { host: host.includes(':') ? `[${host}]` : host, port };
}

/**
 * The Contact for a 2xx to a SIPREC INVITE, `<sip:srs@host:port;transport=…>;+sip.srs`,
 * or null when no address of ours is known (then the server's own Contact goes out, untagged).
 */
export function srsContact(o: { receivedOn?: string; protocol?: string; requestUri: string; externalIp?: string | null }): string | null {
  const transport = (o.protocol ?? 'udp').toLowerCase();
  let hp = o.receivedOn ? splitReceivedOn(o.receivedOn) : null;
  const ruri = sipUriOrNull(o.requestUri);
  if (!hp && ruri) hp = { host: ruri.host.includes(':') ? `[${ruri.host}]` : ruri.host, port: ruri.port === null ? '' : String(ruri.port) };
  if (!hp || WILDCARD.has(hp.host)) return null;
  if (o.externalIp) hp = { host: o.externalIp.includes(':') && !o.externalIp.startsWith('[') ? `[${o.externalIp}]` : o.externalIp, port: hp.port };
  // A SIPS Request-URI over TLS wants a SIPS Contact back (RFC 3261 §8.1.1.8, §12.1.1).
  const sips = ruri?.scheme === 'sips' && transport === 'tls';
  const addr = `${hp.host}${hp.port ? `:${hp.port}` : ''}`;
  if (sips) return `<sips:srs@${addr}>;+sip.srs`;
  return `<sip:srs@${addr}${transport === 'udp' ? '' : `;transport=${transport}`}>;+sip.srs`;
}

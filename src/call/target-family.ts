// The address family of a SIP party, when its signalling says it, so that the
// offers Parley makes (B legs, dial-outs, delayed offers) are in the family the
// other side can use. A host name is resolved as the SIP server resolves it to send
// the INVITE (its first address), when the INVITE goes to it (no outbound proxy).
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import type { IpFamily } from '../media-plane/sdp-types.ts';
import { sipUriOrNull } from '../sip/message/header-values.ts';

/** The family of a SIP URI's host when it is an IP literal (RFC 3261 §25.1: an IPv6 reference is bracketed); null for a host name. */
export function uriFamily(uri: string): IpFamily | null {
  const host = uriHost(uri);
  return host === null ? null : addressFamily(host);
}

/** The host a SIP URI's request goes to: its maddr parameter, else its host (RFC 3261 §19.1.1); null when not a SIP URI. */
function uriHost(uri: string): string | null {
  const u = sipUriOrNull(uri);
  if (!u) return null;
  const maddr = u.params.get('maddr');
  return maddr || u.host;
}

export type HostLookup = (host: string) => Promise<{ address: string }>;

/**
 * The family of a target the INVITE goes straight to: its IP literal, else the first
 * address its host name resolves to (dns.lookup, the SIP server's own resolution of
 * it, src/sip/core/message-factory.ts). Null when not known: a name that does not
 * resolve, or a target reached through an outbound proxy (the proxy resolves it).
 */
export async function targetFamily(uri: string, viaProxy: boolean, lookup: HostLookup = dnsLookup): Promise<IpFamily | null> {
  const host = uriHost(uri);
  if (host === null) return null;
  const literal = addressFamily(host);
  if (literal !== null || viaProxy) return literal;
  try {
    return addressFamily((await lookup(host)).address);
  } catch {
    return null;
  }
}

/** The family of an IP address (bracketed or not, as a transport reports a source); null when it is not one. */
export function addressFamily(address: string | undefined): IpFamily | null {
  if (!address) return null;
  const a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIPv6(a)) return 6;
  if (isIPv4(a)) return 4;
  return null;
}

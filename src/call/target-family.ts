// The address family of a SIP party, when its signalling says it, so that the
// offers Parley makes (B legs, dial-outs, delayed offers) are in the family the
// other side can use. A host name says nothing (Parley offers IPv4 then).
import { isIPv4, isIPv6 } from 'node:net';
import type { IpFamily } from '../media-plane/sdp-types.ts';

/** The family of a SIP URI's host when it is an IP literal (RFC 3261 §25.1: an IPv6 reference is bracketed); null for a host name. */
export function uriFamily(uri: string): IpFamily | null {
  const m = /^\s*<?\s*(?:sips?):(?:[^@;?>]*@)?(\[[^\]]*\]|[^:;?>\s]+)/i.exec(uri);
  if (!m) return null;
  return addressFamily(m[1]);
}

/** The family of an IP address (bracketed or not, as a transport reports a source); null when it is not one. */
export function addressFamily(address: string | undefined): IpFamily | null {
  if (!address) return null;
  const a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIPv6(a)) return 6;
  if (isIPv4(a)) return 4;
  return null;
}

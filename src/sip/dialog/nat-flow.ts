// A phone behind a NAT that calls Parley directly (no SBC or proxy in between) puts its
// private address in its Contact: requests Parley sends in that dialog (a BYE when the flow
// hangs up, a re-INVITE passing a hold on, a NOTIFY) would go to an address it cannot reach,
// and the phone would stay in a call that is over. Parley answers the INVITE at its source
// already (Via received/rport, RFC 3581); with `sip.natContact` it sends the dialog's
// requests there too, as Kamailio's fix_nated_contact and Asterisk's force_rport with
// rewrite_contact do. The Request-URI is still the Contact (the phone expects it).
// - `auto` (the default): a UDP dialog without a route set whose Contact is a private,
//   shared (CGNAT) or link-local IP address and whose INVITE came from another address that
//   is none of those (nor loopback): the classic NAT case, where the Contact cannot be reached.
// - `always`: any UDP dialog without a route set whose INVITE came from elsewhere than its
//   Contact's address and port.
// - `never`: the Contact, as RFC 3261 §12.2.1.1 says.
// A dialog with a route set goes through its proxies (they handle NAT); TCP and TLS dialogs
// reuse their connection already. A dialog Parley made (a B leg, a dial-out) takes the address
// its INVITE went to as the source (its 2xx came from there: symmetric SIP), so a callee whose
// Contact is behind a NAT gets the ACK and the dialog's requests there. A target refresh (re-INVITE, UPDATE) that keeps the NAT
// case moves the flow to its own source (a NAT that rebound).
import { isIP } from 'node:net';
import { parseUri } from '../message/header-values.ts';
import type { Endpoint } from '../transport/transport-types.ts';

export type NatContactMode = 'auto' | 'always' | 'never';

/** IPv4 ranges a host behind a NAT has (RFC 1918, RFC 6598 shared space, link-local), as [base, prefix bits]. */
const PRIVATE4: Array<[number, number]> = [
  [0x0a000000, 8],
  [0xac100000, 12],
  [0xc0a80000, 16],
  [0x64400000, 10],
  [0xa9fe0000, 16],
];

function v4(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** Whether an address is private, shared (CGNAT) or link-local: one a NAT hides. */
export function isPrivateAddress(a: string): boolean {
  const f = isIP(a);
  if (f === 4) {
    const n = v4(a);
    return PRIVATE4.some(([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)));
  }
  if (f === 6) return /^f[cd][0-9a-f]{2}:/i.test(a) || /^fe[89ab][0-9a-f]:/i.test(a);
  return false;
}

function isLoopback(a: string): boolean {
  return (isIP(a) === 4 && a.startsWith('127.')) || a === '::1';
}

/**
 * Where the dialog's requests go instead of its Contact's address: the source of the request
 * that made (or refreshed) it, when `mode` says the Contact is behind a NAT; null otherwise.
 */
export function natFlow(mode: NatContactMode, contactUri: string, routeSetEmpty: boolean, source: Endpoint): Endpoint | null {
  if (mode === 'never' || !routeSetEmpty || source.transport !== 'udp') return null;
  let host: string;
  let port: number;
  try {
    const u = parseUri(contactUri);
    host = u.params.get('maddr') ?? u.host;
    port = u.port ?? 5060;
    if ((u.params.get('transport') ?? 'udp').toLowerCase() !== 'udp' || u.scheme !== 'sip') return null;
  } catch {
    return null;
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === source.address && port === source.port) return null;
  if (mode === 'auto' && !(isIP(host) !== 0 && isPrivateAddress(host) && host !== source.address && !isPrivateAddress(source.address) && !isLoopback(source.address))) return null;
  return { transport: 'udp', address: source.address, port: source.port };
}

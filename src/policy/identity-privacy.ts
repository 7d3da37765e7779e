// RFC 3325 §7 (with RFC 3323's `id` priv-value, RFC 3325 §9.3): a request that asks for its
// identity to be withheld (`Privacy: id`) loses its P-Asserted-Identity when it leaves the trust
// domain. Parley's trust domain is `security.upstreams` (RFC 3325 §5: whose assertions it takes);
// a next hop is inside it when its URI names an address one of them covers. A name is outside:
// it is not resolved here, and an identity withheld from a host that was trusted is the safe error.
import { isIP } from 'node:net';
import { sipUriOrNull } from '../sip/message/header-values.ts';
import type { Matcher } from './pattern.ts';

/** Whether a Privacy header (its values, one per header line) holds the priv-value `id`. */
export function wantsIdPrivacy(values: string | readonly string[] | undefined): boolean {
  if (values === undefined) return false;
  const all = typeof values === 'string' ? [values] : values;
  return all.some((v) => v.split(/[;,]/).some((p) => p.trim().toLowerCase() === 'id'));
}

/** Whether a request to `uri` stays in the trust domain `upstreams` makes (none listed: nothing does). */
export function inTrustDomain(uri: string, upstreams: readonly Matcher[]): boolean {
  // A URI, bare or in a name-addr (`<sip:a@[::1]:5060;lr>`); its host without brackets.
  const host = sipUriOrNull(/<([^>]*)>/.exec(uri)?.[1] ?? uri)?.host;
  return host !== undefined && isIP(host) !== 0 && upstreams.some((m) => m(host));
}

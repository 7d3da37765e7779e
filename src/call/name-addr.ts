// Parses a From/To/Contact value into its URI, display name and header parameters.
import { headerDisplayName, headerUri } from '../policy/routable-request.ts';
import { headerParamsAt } from '../sip/message/header-values.ts';
import type { NameAddr } from './ports.ts';

export function parseNameAddr(value: string | undefined): NameAddr {
  if (!value) return { uri: '', displayName: '', params: {} };
  const uri = headerUri(value);
  // Header parameters follow the '>' closing the URI (or the URI itself when there are no brackets).
  const tail = value.slice(headerParamsAt(value));
  const params: Record<string, string> = {};
  for (const part of tail.split(';')) {
    const [k, v] = part.split('=');
    const key = k?.trim();
    if (key && key.toLowerCase() !== 'tag') params[key] = (v ?? '').trim();
  }
  return { uri, displayName: headerDisplayName(value), params };
}

/**
 * `"Name" <uri>` or `<uri>`: the name a quoted-string (RFC 3261 §25.1), `"` and `\` escaped;
 * CR and LF, which no quoted-string can hold, become spaces.
 */
export function formatNameAddr(n: { uri: string; displayName?: string }): string {
  const name = n.displayName ? `"${n.displayName.replace(/[\r\n]+/g, ' ').replace(/(["\\])/g, '\\$1')}" ` : '';
  return `${name}<${n.uri}>`;
}

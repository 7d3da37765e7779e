// The headers component of a SIP URI (`sip:bob@host?Subject=hi&Priority=urgent`, RFC 3261
// §19.1.1): allowed where a URI names a request to be formed (a 3xx Contact, a configured
// target), never in a Request-URI. A request formed from such a URI carries those headers and
// a Request-URI without them (§19.1.5).
import { canonicalHeaderName } from './header-names.ts';
import type { HeaderField } from './sip-message.ts';

/**
 * Headers a URI may not set (§19.1.5: From, Call-ID, CSeq, Via, Record-Route are "obviously
 * dangerous", Route too): the ones that frame the request or that the sender writes itself.
 */
const UNSAFE = new Set([
  'Via', 'Call-ID', 'CSeq', 'Content-Length', 'Max-Forwards', 'Route', 'Record-Route', 'From', 'To',
  'Contact', 'Content-Type', 'Content-Encoding', 'RSeq', 'RAck', 'Body',
]);
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

export interface UriHeaders {
  /** The URI without its headers component. */
  uri: string;
  /** The headers the request formed from it takes. */
  headers: HeaderField[];
  /** Header names left out: unsafe, not a token, or a value that cannot be a header. */
  ignored: string[];
}

/** Splits a sip:/sips: URI's `?headers` off (the `?` after the userinfo's `@`); other URIs as they are. */
export function splitUriHeaders(uri: string): UriHeaders {
  const at = /^sips?:/i.test(uri) ? uri.indexOf('?', uri.lastIndexOf('@') + 1) : -1;
  if (at === -1) return { uri, headers: [], ignored: [] };
  const headers: HeaderField[] = [];
  const ignored: string[] = [];
  for (const pair of uri.slice(at + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName);
      value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1));
    } catch {
      ignored.push(rawName);
      continue;
    }
    const canon = TOKEN.test(name) ? canonicalHeaderName(name) : '';
    if (!canon || UNSAFE.has(canon) || /[\r\n\0]/.test(value)) {
      ignored.push(name);
      continue;
    }
    headers.push({ name: canon, value });
  }
  return { uri: uri.slice(0, at), headers, ignored };
}

/** Whether a sip:/sips: URI carries a headers component. */
export function hasUriHeaders(uri: string): boolean {
  return /^sips?:/i.test(uri) && uri.indexOf('?', uri.lastIndexOf('@') + 1) !== -1;
}

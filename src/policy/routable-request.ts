// What the rule chain needs of a request, whichever stack parsed it: a
// drachtio-srf request satisfies it, and so does a message read from a file.
import { headerParamsAt, indexOutsideQuotes } from '../sip/message/header-values.ts';

export interface RoutableRequest {
  readonly method: string;
  readonly uri: string;
  readonly body?: string;
  get(name: string): string | undefined;
  has(name: string): boolean;
  readonly source_address?: string;
}

/**
 * The URI inside a From/To/Contact value: `"Alice" <sip:a@b;transport=tcp>;tag=1`
 * gives `sip:a@b;transport=tcp`; without angle brackets, parameters after the
 * URI belong to the header (RFC 3261 §20.10) and are dropped.
 */
export function headerUri(value: string | undefined): string {
  if (!value) return '';
  const lt = angleStart(value);
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    return value.slice(lt + 1, gt < 0 ? undefined : gt).trim();
  }
  return value.trim().split(';')[0]!.trim();
}

/**
 * Where a name-addr's `<` is: the first one outside the quoted display name (a `<sip:…>`
 * inside `"…"` is part of the name, RFC 3261 §25.1: `"<sip:ceo@bank>" <sip:mallory@x>`
 * names mallory), or -1 when there is none.
 */
export function angleStart(value: string): number {
  return Math.max(-1, indexOutsideQuotes(value, '<'));
}

/** A From or To value without its tag parameter (a header parameter, never one of the URI's). */
export function withoutTag(value: string): string {
  const at = headerParamsAt(value);
  return value.slice(0, at) + value.slice(at).replace(/;\s*tag\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;\s]*)/gi, '');
}

/** Characters a URI escape stands for that are not the same unescaped (RFC 3261 §25.1 reserved, and % itself). */
const RESERVED = new Set(';/?:@&=+$,%');

/**
 * A URI as it compares (RFC 3261 §19.1.4: a character outside the reserved set is the same as
 * its %HEX escape): `sip:%70remium@x` is `sip:premium@x`, so a rule on `sip:premium@*` takes
 * both. Escapes of reserved characters (`%40`, `%3B`), of controls and of bytes past ASCII stay.
 */
export function canonicalUri(uri: string): string {
  if (!uri.includes('%')) return uri;
  return uri.replace(/%([0-9A-Fa-f]{2})/g, (esc, hex: string) => {
    const code = parseInt(hex, 16);
    const ch = String.fromCharCode(code);
    return code > 0x20 && code < 0x7f && !RESERVED.has(ch) ? ch : esc;
  });
}

/**
 * The address-of-record a URI names, as a policy means "calls to bob": `sip:` (a `sips:` URI is
 * the same user), the user as it compares (escapes of unreserved characters decoded, case
 * kept: RFC 3261 §19.1.4), no password, the host in lower case, the port when the URI has one;
 * URI parameters and headers dropped (`;transport=tcp`, `;user=phone`, `;maddr=…`, `?…`
 * address the same user). `sip:%62ob@Example.COM:5070;user=phone` is `sip:bob@example.com:5070`.
 * A URI of another scheme (tel:, …) or one that does not parse is only canonicalized.
 */
export function addressOfRecord(uri: string): string {
  const m = /^\s*(sips?):([^;?]*)/i.exec(uri);
  if (!m) return canonicalUri(uri.trim());
  const rest = m[2]!;
  const at = rest.lastIndexOf('@');
  const userinfo = at < 0 ? '' : rest.slice(0, at);
  const hostport = (at < 0 ? rest : rest.slice(at + 1)).toLowerCase();
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  return `sip:${at >= 0 ? canonicalUri(user) + '@' : ''}${hostport}`;
}

/** The display name of a From/To value, unquoted, or '' when there is none. */
export function headerDisplayName(value: string | undefined): string {
  if (!value) return '';
  const lt = angleStart(value);
  if (lt <= 0) return '';
  const name = value.slice(0, lt).trim();
  return name.startsWith('"') && name.endsWith('"') ? name.slice(1, -1).replace(/\\(.)/g, '$1') : name;
}

/** The media kinds an SDP body offers (`m=` lines); an empty list when there is no SDP. */
export function sdpMediaKinds(body: string | undefined, contentType: string | undefined): string[] {
  if (!body) return [];
  if (contentType && !/application\/sdp/i.test(contentType) && !/multipart\//i.test(contentType)) return [];
  const kinds = new Set<string>();
  for (const line of body.split(/\r?\n/)) {
    const m = /^m=([a-z]+)\s+(\d+)/i.exec(line);
    // A port of 0 rejects or disables the stream (RFC 3264 §6); it is not offered.
    if (m && m[2] !== '0') kinds.add(m[1]!.toLowerCase());
  }
  return [...kinds];
}

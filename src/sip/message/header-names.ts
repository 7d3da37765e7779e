// Header names: RFC 3261 §7.3.3 compact forms and case-insensitive matching (§7.3.1).
// Every header name is stored in its canonical spelling so lookups are one Map hit.

const COMPACT: Record<string, string> = {
  i: 'Call-ID', m: 'Contact', e: 'Content-Encoding', l: 'Content-Length', c: 'Content-Type',
  f: 'From', s: 'Subject', k: 'Supported', t: 'To', v: 'Via', o: 'Event', r: 'Refer-To',
  b: 'Referred-By', u: 'Allow-Events', x: 'Session-Expires', a: 'Accept-Contact',
  j: 'Reject-Contact', d: 'Request-Disposition', y: 'Identity', n: 'Identity-Info',
};

const SPECIAL: Record<string, string> = {
  'call-id': 'Call-ID', cseq: 'CSeq', 'www-authenticate': 'WWW-Authenticate', rseq: 'RSeq',
  rack: 'RAck', 'mime-version': 'MIME-Version', 'min-se': 'Min-SE', 'p-asserted-identity': 'P-Asserted-Identity',
};

/** Headers whose comma-separated values are separate header field values (RFC 3261 §7.3.1). */
const LIST_HEADERS = new Set(['Via', 'Route', 'Record-Route', 'Contact']);

const cache = new Map<string, string>();

/** The canonical spelling of a header name: compact forms expanded, words capitalised. */
export function canonicalHeaderName(name: string): string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const lower = name.toLowerCase();
  let canon = COMPACT[lower] ?? SPECIAL[lower];
  if (canon === undefined) {
    canon = lower.replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
  }
  if (cache.size < 10000) cache.set(name, canon);
  return canon;
}

export function isListHeader(canonical: string): boolean {
  return LIST_HEADERS.has(canonical);
}

/**
 * Splits a header value on top-level commas: not inside quotes or angle brackets. Empty
 * elements are kept (`a,,b` has three) so the parser can refuse them (RFC 4475 §3.1.2.1).
 */
export function splitTopLevel(value: string): string[] {
  if (value.indexOf(',') === -1) return [value.trim()];
  const out: string[] = [];
  let depthAngle = 0;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (inQuote) {
      if (ch === 0x5c) i++; // backslash escapes the next char (RFC 3261 §25.1 quoted-pair)
      else if (ch === 0x22) inQuote = false;
    } else if (ch === 0x22) inQuote = true;
    else if (ch === 0x3c) depthAngle++;
    else if (ch === 0x3e) depthAngle = Math.max(0, depthAngle - 1);
    else if (ch === 0x2c && depthAngle === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out;
}

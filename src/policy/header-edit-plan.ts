// How a rule's header edits reach a forwarded request, the same way on the embedded
// server and on a real drachtio-server.
//
// drachtio-server's proxy can only *add* headers: the headers an app passes with
// srf.proxyRequest become sofia-sip tags on the forwarded copy of the received request
// (drachtio-server 0.9.10, src/sip-proxy-controller.cpp forwardRequest → makeTags), and
// a custom header is appended even when the request has it, even with an empty value.
// There is no convention for removing one. So edits that only add (or set a header the
// request lacks) go out with the proxy; edits that remove or rewrite a header the request
// carries need a request Parley writes itself: a B2BUA leg (srf.createB2BUA / srf.request),
// whose headers are exactly the ones the app sends, on either server.
import type { HeaderEdit } from './rule-types.ts';

/**
 * Headers the B2BUA's own user agent writes or negotiates (RFC 3261 §8.1.1, RFC 3262,
 * RFC 4028): never copied from the caller's request onto the new leg.
 */
const HOP_HEADERS = new Set([
  'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'content-length', 'content-type', 'max-forwards',
  'route', 'record-route', 'supported', 'require', 'proxy-require', 'session-expires', 'min-se',
  'rseq', 'rack', 'allow', 'authorization', 'proxy-authorization',
]);

/**
 * The headers to hand srf.proxyRequest, or null when the edits cannot be carried by a
 * proxy (a `remove` or `set` of a header the request has). `has`: the request's headers.
 */
export function proxyHeadersFor(edits: readonly HeaderEdit[], has: (name: string) => boolean): Record<string, string> | null {
  const out: Record<string, string> = {};
  const added = new Set<string>();
  for (const e of edits) {
    const key = e.name.toLowerCase();
    if (e.op === 'remove') {
      if (has(e.name) || added.has(key)) return null;
      continue;
    }
    if (e.op === 'set' && (has(e.name) || added.has(key))) return null;
    const name = Object.keys(out).find((n) => n.toLowerCase() === key) ?? e.name;
    out[name] = out[name] !== undefined ? `${out[name]},${e.value ?? ''}` : (e.value ?? '');
    added.add(key);
  }
  return out;
}

/**
 * The headers of the new leg's request: the caller's request headers (`headers`, as
 * drachtio-srf parsed them: one entry per name, repeated fields joined with commas) minus
 * the hop-by-hop ones, Max-Forwards less one (RFC 3261 §16.6 step 3, so loops still end),
 * and the edits applied in rule order.
 */
export function rewrittenHeaders(headers: Readonly<Record<string, string>>, edits: readonly HeaderEdit[]): Record<string, string> {
  const out: Record<string, string> = {};
  const find = (name: string): string | undefined => Object.keys(out).find((n) => n.toLowerCase() === name.toLowerCase());
  // Header names are case-insensitive (RFC 3261 §7.3.5): one header sent twice in two spellings
  // (P-Asserted-Identity, P-ASSERTED-IDENTITY) is one header of two values, removed or set as one.
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_HEADERS.has(name.toLowerCase())) continue;
    const same = find(name);
    if (same === undefined) out[name] = value;
    else out[same] = `${out[same]},${value}`;
  }
  const mfKey = Object.keys(headers).find((n) => n.toLowerCase() === 'max-forwards');
  const mf = Number(mfKey ? headers[mfKey] : 70);
  out['Max-Forwards'] = String(Number.isFinite(mf) ? Math.max(0, mf - 1) : 69);
  for (const e of edits) {
    const existing = find(e.name);
    if (e.op === 'remove') {
      if (existing !== undefined) delete out[existing];
    } else if (e.op === 'set' || existing === undefined) {
      if (existing !== undefined) delete out[existing];
      out[e.name] = e.value ?? '';
    } else {
      out[existing] = `${out[existing]},${e.value ?? ''}`;
    }
  }
  return out;
}

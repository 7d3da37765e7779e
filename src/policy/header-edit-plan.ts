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
 * RFC 4028): never copied from the caller's request onto the new leg. Authorization and
 * Proxy-Authorization are end to end (the next hop's digest challenge is answered through
 * the relay); a REGISTER's Contact, Supported and Require are its bindings and their
 * options (RFC 3261 §10.2.1, RFC 5626 outbound, RFC 3327 path), not the relay's own.
 */
const HOP_HEADERS = new Set([
  'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'content-length', 'content-type', 'max-forwards',
  'route', 'record-route', 'supported', 'require', 'proxy-require', 'session-expires', 'min-se',
  'rseq', 'rack', 'allow',
]);
const REGISTER_KEEPS = new Set(['contact', 'supported', 'require']);

/**
 * Response headers never relayed back to the caller: each hop writes its own (RFC 3261 §8.2.6,
 * §16.7), and the body's length and type go with the body the relay sends (or not).
 */
const RESPONSE_HOP = new Set([
  'via', 'from', 'to', 'call-id', 'cseq', 'content-length', 'content-type', 'record-route', 'route',
  'max-forwards', 'x-parley-relay',
]);
/**
 * What the B2BUA itself negotiates in an INVITE's provisional and 2xx responses: its own
 * Contact (the caller's dialog is with Parley), 100rel and session timers (RFC 3262, RFC 4028).
 * A failure's Contact (a 3xx's targets) and Allow/Supported (405, 420) are end to end.
 */
const INVITE_DIALOG_HOP = new Set(['contact', 'require', 'supported', 'rseq', 'session-expires', 'min-se', 'allow']);

/**
 * The end-to-end headers of the next hop's response, for the relay's response to the caller.
 * `inviteDialog`: an INVITE's 1xx or 2xx, answered by the B2BUA's own user agent.
 */
export function endToEndResponseHeaders(headers: Readonly<Record<string, unknown>>, inviteDialog: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (RESPONSE_HOP.has(key) || (inviteDialog && INVITE_DIALOG_HOP.has(key)) || typeof value !== 'string') continue;
    out[name] = value;
  }
  return out;
}

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
 * the hop-by-hop ones (`method`: the request's, a REGISTER keeps its Contact), Max-Forwards less one (RFC 3261 §16.6 step 3, so loops still end),
 * and the edits applied in rule order.
 */
export function rewrittenHeaders(headers: Readonly<Record<string, string>>, edits: readonly HeaderEdit[], method = 'INVITE'): Record<string, string> {
  const out: Record<string, string> = {};
  const find = (name: string): string | undefined => Object.keys(out).find((n) => n.toLowerCase() === name.toLowerCase());
  // Header names are case-insensitive (RFC 3261 §7.3.5): one header sent twice in two spellings
  // (P-Asserted-Identity, P-ASSERTED-IDENTITY) is one header of two values, removed or set as one.
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (HOP_HEADERS.has(key) && !(method === 'REGISTER' && REGISTER_KEEPS.has(key))) continue;
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
      out[e.name] = ADDRESS.has(e.name.toLowerCase()) ? asNameAddr(e.value ?? '') : (e.value ?? '');
    } else {
      out[existing] = `${out[existing]},${e.value ?? ''}`;
    }
  }
  return out;
}

/** From and To, long and compact (RFC 3261 §7.3.3). */
const ADDRESS = new Set(['from', 'to', 'f', 't']);

/**
 * A From or To a rule set as a bare URI, in <> (RFC 3261 §20.10: a URI holding `;`, `,` or
 * `?` must be): the server appends the leg's tag, which would otherwise make the URI's own
 * parameters (`;user=phone`) header parameters. A name-addr is left as written.
 */
function asNameAddr(value: string): string {
  const v = value.trim();
  return v.includes('<') ? v : `<${v}>`;
}

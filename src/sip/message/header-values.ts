// Structured views of the headers the server itself must understand: SIP URIs,
// name-addr (From, To, Contact, Route), Via and CSeq (RFC 3261 §19.1, §20, §25.1).
import { SipError } from './sip-error.ts';

export interface SipUri {
  scheme: string;
  user: string | null;
  host: string;
  port: number | null;
  params: Map<string, string | null>;
  /** The text after the host (params and headers), kept verbatim for re-serialisation. */
  raw: string;
}

export interface NameAddr {
  display: string | null;
  uri: string;
  params: Map<string, string | null>;
}

export interface Via {
  protocol: string; // SIP/2.0
  transport: string; // UDP, TCP, ...
  host: string;
  port: number | null;
  params: Map<string, string | null>;
}

export interface CSeq {
  seq: number;
  method: string;
}

function parseParams(text: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  if (!text) return params;
  for (const part of splitOutsideQuotes(text, ';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq === -1) params.set(p.toLowerCase(), null);
    else params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return params;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === sep) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

const HOSTPORT_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_][A-Za-z0-9_.-]*)(?::\d{1,5})?$/;

/**
 * Where the userinfo of what follows a URI's scheme ends (its `@`), or -1 when it has
 * none. The user part may hold almost anything, `;` and `?` too (RFC 4475 §3.1.1.2; an
 * IMS number `+1555;phone-context=ims.example@host`), but no unescaped @: the host
 * follows the last one, unless that one sits in the URI's headers (after a `?` with an
 * @ before it: `bob@b.example?Refer-To=x@y`, which the field sends unescaped).
 */
function userinfoEnd(rest: string): number {
  const at = rest.lastIndexOf('@');
  const q = rest.indexOf('?');
  if (at < 0 || q < 0 || q > at) return at;
  const before = rest.lastIndexOf('@', q);
  return before >= 0 ? before : at;
}

/**
 * Whether a sip: or sips: URI has a host (a host name, an IPv4 address or an [IPv6]
 * reference) and at most a port before its parameters or headers (§25.1): `sip:@@:::` names
 * nothing to send to.
 */
export function sipHostPortValid(uri: string): boolean {
  let rest = uri.slice(uri.indexOf(':') + 1);
  rest = rest.slice(userinfoEnd(rest) + 1);
  const end = rest.search(/[;?]/);
  return HOSTPORT_RE.test(end < 0 ? rest : rest.slice(0, end));
}

const SCHEME_RE = /^(sips?|tel):/i;
const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[^:;?>\s]+)(?::(\d{1,5}))?(.*)$/;

export function parseUri(text: string): SipUri {
  const t = text.trim();
  const s = SCHEME_RE.exec(t);
  const afterScheme = s ? t.slice(s[0].length) : '';
  const at = userinfoEnd(afterScheme);
  const m = s && at !== 0 ? HOST_RE.exec(afterScheme.slice(at + 1)) : null;
  if (!s || !m) throw new SipError(400, 'Bad Request', `bad URI ${text.slice(0, 80)}`);
  const scheme = s[1];
  const user = at > 0 ? afterScheme.slice(0, at) : undefined;
  const [, host, port, rest] = m;
  const q = rest.indexOf('?');
  const paramText = q === -1 ? rest : rest.slice(0, q);
  const portNum = port === undefined ? null : Number(port);
  if (portNum !== null && portNum > 65535) throw new SipError(400, 'Bad Request', 'bad URI port');
  return {
    scheme: scheme.toLowerCase(),
    user: user ?? null,
    host: host.startsWith('[') ? host.slice(1, -1) : host,
    port: portNum,
    params: parseParams(paramText.startsWith(';') ? paramText.slice(1) : paramText),
    raw: rest,
  };
}

/** A sip: or sips: URI (in angle brackets or not) parsed; null for another scheme or one that cannot be read. */
export function sipUriOrNull(text: string): SipUri | null {
  try {
    const u = parseUri(text.trim().replace(/^<\s*|\s*>$/g, ''));
    return u.scheme === 'tel' ? null : u;
  } catch {
    return null;
  }
}

/** Parses `"Display" <uri>;params`, `<uri>;params` or a bare addr-spec (whose params are header params). */
export function parseNameAddr(text: string): NameAddr {
  const t = text.trim();
  let display: string | null = null;
  let rest = t;
  let uri: string;
  const lt = indexOutsideQuotes(t, '<');
  // RFC 4475 §3.1.2.6: an unterminated quoted display name swallows the URI; refuse it.
  if (lt === -2) throw new SipError(400, 'Bad Request', 'unterminated quoted string');
  if (lt !== -1) {
    const gt = t.indexOf('>', lt);
    if (gt === -1) throw new SipError(400, 'Bad Request', 'unterminated <');
    display = t.slice(0, lt).trim() || null;
    if (display && display.startsWith('"') && !display.endsWith('"')) throw new SipError(400, 'Bad Request', 'bad quoted display name');
    uri = t.slice(lt + 1, gt).trim();
    rest = t.slice(gt + 1);
  } else {
    const semi = t.indexOf(';');
    uri = semi === -1 ? t : t.slice(0, semi);
    rest = semi === -1 ? '' : t.slice(semi);
  }
  if (!uri) throw new SipError(400, 'Bad Request', 'empty URI');
  // addr-spec: a SIP, SIPS or absolute URI (§25.1), which starts with its scheme and holds no < or >.
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri) || /[<>]/.test(uri)) throw new SipError(400, 'Bad Request', `bad URI ${uri.slice(0, 80)}`);
  rest = rest.trim();
  return { display, uri, params: parseParams(rest.startsWith(';') ? rest.slice(1) : rest) };
}

/** Index of `ch` outside quoted strings; -1 when absent, -2 when absent and a quote never closes. */
export function indexOutsideQuotes(text: string, ch: string): number {
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === ch) return i;
  }
  return inQuote ? -2 : -1;
}

/**
 * Where a From/To/Contact value's header parameters begin: just after the `>` that closes its
 * URI (the first `<` outside quotes: a `>` in a quoted display name or in a quoted parameter value
 * is not it), or at the first `;` of a bare URI (its parameters are the header's, §20.10);
 * the value's length when it has none.
 */
export function headerParamsAt(value: string): number {
  const lt = indexOutsideQuotes(value, '<');
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    return gt < 0 ? value.length : gt + 1;
  }
  const semi = value.indexOf(';');
  return semi < 0 ? value.length : semi;
}

// sent-by is a host name, IPv4 address or [IPv6] reference, an optional port, then nothing but
// parameters (§20.42): `127:.0.0.1` or `host:-1` is no sent-by to answer to.
const VIA_RE = /^(SIP\s*\/\s*2\.0)\s*\/\s*([A-Za-z]+)\s+(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_][A-Za-z0-9_.-]*)(?:\s*:\s*(\d{1,5}))?\s*((?:;.*)?)$/;

export function parseVia(text: string): Via {
  const m = VIA_RE.exec(text.trim());
  if (!m) throw new SipError(400, 'Bad Request', 'bad Via');
  const rest = m[5].trim();
  const port = m[4] === undefined ? null : Number(m[4]);
  // Port 0 is no port a response can go to (over UDP it would be lost without a word).
  if (port !== null && (port === 0 || port > 65535)) throw new SipError(400, 'Bad Request', 'bad Via port');
  return {
    protocol: 'SIP/2.0',
    transport: m[2].toUpperCase(),
    host: m[3].startsWith('[') ? m[3].slice(1, -1) : m[3],
    port,
    params: parseParams(rest.startsWith(';') ? rest.slice(1) : rest),
  };
}

export function parseCSeq(text: string): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9!%*_+`'~.-]+)\s*$/.exec(text); // method = token (§25.1)
  if (!m) throw new SipError(400, 'Bad Request', 'bad CSeq');
  const seq = Number(m[1]);
  if (seq > 0xffffffff) throw new SipError(400, 'Bad Request', 'CSeq out of range');
  return { seq, method: m[2] };
}

export function formatHostPort(host: string, port: number | null): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === null ? h : `${h}:${port}`;
}

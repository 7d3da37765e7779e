// RFC 3261 §7 message parser. Takes one complete datagram (or one framed stream message)
// and returns a SipMessage, or throws a ParseError that says whether enough was read to answer.
import { canonicalHeaderName, isListHeader, splitTopLevel } from './header-names.ts';
import { headerParamsAt, sipHostPortValid } from './header-values.ts';
import { SipMessage, unpooledCopy } from './sip-message.ts';

export class ParseError extends Error {
  /** The partial message when its start line and headers could be read: a 400 can be sent. */
  readonly partial: SipMessage | null;
  /**
   * The answer due when `partial` is set: 400, 416 for a Request-URI scheme we do not know
   * (§8.2.2.1), 505 for a SIP version other than 2.0 (§8.2.2.1, RFC 4475 §3.1.2.16).
   */
  readonly status: number;
  constructor(detail: string, partial: SipMessage | null = null, status = 400) {
    super(detail);
    this.name = 'ParseError';
    this.partial = partial;
    this.status = status;
  }
}

const TOKEN_RE = /^[A-Za-z0-9.!%*_+`'~-]+$/;
// Three digits, then SP or the end: `SIP/2.0 4294967301` is no 429 (RFC 4475 §3.1.2.19).
const STATUS_RE = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/;
const REQUEST_RE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/;
/**
 * A line that starts with a method token and SP is a request we can answer, even when the
 * rest is wrong (RFC 4475 §3.1.2.7-10: `<uri>`, LWS in the URI, extra or trailing SP all
 * deserve a 400, not silence). A SIP version at its end, other than 2.0, gets 505.
 */
const LOOSE_REQUEST_RE = /^([A-Za-z0-9.!%*_+`'~-]+)[ \t]+(.*\S)[ \t]*$/;
const VERSION_RE = /(?:^|[ \t])SIP\/(\d+\.\d+)$/;
/** A request line whose method is no token: anything but blanks, then the URI and SIP/2.0. */
const GARBLED_METHOD_RE = /^([^ \t]+)[ \t]+(\S+)[ \t]+SIP\/2\.0$/;
/** Headers that appear at most once (RFC 3261 §7.3.1, §20; RFC 4475 §3.3.8, §3.3.9). */
const SINGLE_VALUED = ['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards', 'Content-Length'];

/**
 * Where the body begins: just after the blank line that ends the header block, or -1.
 * RFC 3261 §7 wants CRLF line ends, but old phones and hand-written tools send bare LF,
 * and widely deployed stacks (PJSIP, sofia-sip, Kamailio) take it: any of CRLF and LF ends
 * a line here, mixed or not, so the blank line is LF [CR] LF after the last header.
 */
export function bodyStart(buf: Buffer, from = 0): number {
  let lf = buf.indexOf(0x0a, from);
  while (lf !== -1) {
    const next = buf[lf + 1];
    if (next === 0x0a) return lf + 2;
    if (next === 0x0d && buf[lf + 2] === 0x0a) return lf + 3;
    lf = buf.indexOf(0x0a, lf + 1);
  }
  return -1;
}

/** The end of the header text before `body` (its last line end and the blank line left out). */
function headEnd(buf: Buffer, body: number): number {
  let end = body;
  while (end > 0 && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d)) end--;
  return end;
}

/** Whether a line in buf[0..end) ends in LF alone (a message Parley passes on is rewritten with CRLF). */
function hasBareLf(buf: Buffer, end: number): boolean {
  for (let lf = buf.indexOf(0x0a); lf !== -1 && lf < end; lf = buf.indexOf(0x0a, lf + 1)) if (buf[lf - 1] !== 0x0d) return true;
  return false;
}

/**
 * `uriHeaders`: an app's request (control connection), whose Request-URI may be a URI with
 * headers to form the request from (RFC 3261 §19.1.5, uri-headers.ts); from the network, never.
 */
export function parseMessage(buf: Buffer, opts: { stream?: boolean; uriHeaders?: boolean } = {}): SipMessage {
  const body = bodyStart(buf);
  // A datagram is whole (§18.1.1): without its empty line its headers still say whom to answer.
  const unterminated = body === -1;
  if (unterminated && opts.stream) throw new ParseError('no end of headers');
  const end = headEnd(buf, unterminated ? buf.length : body);
  const head = buf.toString('utf8', 0, end);
  const lines = unfold(head.split(/\r?\n/));
  const start = lines[0] ?? '';
  const msg = new SipMessage();
  msg.bareLf = hasBareLf(buf, unterminated ? buf.length : body);
  let startProblem: ParseError | null = null;
  const sm = STATUS_RE.exec(start);
  if (sm) {
    msg.status = Number(sm[1]);
    msg.reason = sm[2] ?? '';
  } else {
    const line = requestLine(start);
    msg.method = line.method;
    msg.uri = line.uri;
    startProblem = line.problem;
  }
  let bad: string | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) {
      bad ??= `bad header line: ${line.slice(0, 40)}`;
      continue;
    }
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN_RE.test(rawName)) {
      bad ??= 'bad header name';
      continue;
    }
    const name = canonicalHeaderName(rawName);
    const value = line.slice(colon + 1).trim();
    if (isListHeader(name) && !(name === 'Contact' && value === '*')) {
      for (const v of splitTopLevel(value)) {
        // RFC 4475 §3.1.2.1: `,,` and `;;` are not empty values, they are errors.
        if (!v || emptyParam(name, v)) bad ??= `empty element or parameter in ${name}`;
        if (v) msg.headers.push({ name, value: v });
      }
    } else {
      msg.headers.push({ name, value });
    }
  }
  if (msg.method !== null) bad ??= duplicated(msg);
  const available = buf.length - body;
  const cl = msg.get('Content-Length');
  // The start line's own fault wins: a 505 says more than a header complaint (§8.2.2.1).
  if (startProblem) throw new ParseError(startProblem.message, msg, startProblem.status);
  if (unterminated) throw new ParseError('no empty line after the headers', msg);
  if (cl !== undefined) {
    if (!/^\d{1,7}$/.test(cl)) throw new ParseError('bad Content-Length', msg);
    const n = Number(cl);
    // §18.3: over UDP a longer datagram is truncated to Content-Length; a shorter one is an error.
    if (n > available) throw new ParseError('body shorter than Content-Length', msg);
    msg.body = ownBody(buf, body, body + n);
  } else {
    if (opts.stream) throw new ParseError('Content-Length required on a stream transport', msg);
    msg.body = ownBody(buf, body, buf.length);
  }
  if (bad) throw new ParseError(bad, msg);
  if (msg.uri !== null && !/^(sips?|tel):/i.test(msg.uri)) throw new ParseError('unsupported URI scheme', msg, 416);
  if (msg.uri !== null && !opts.uriHeaders && uriHasHeaders(msg.uri)) throw new ParseError('headers in the Request-URI', msg);
  if (msg.uri !== null && /^sips?:/i.test(msg.uri) && !sipHostPortValid(msg.uri)) throw new ParseError('bad Request-URI host', msg);
  return msg;
}

/**
 * §7.1: Method SP Request-URI SP SIP-Version, nothing more. A line that is recognisably a
 * request but breaks that form keeps its method and URI text and says what to answer.
 */
function requestLine(start: string): { method: string; uri: string; problem: ParseError | null } {
  const strict = REQUEST_RE.exec(start);
  if (strict) {
    const uri = strict[2];
    const problem = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri) ? null : new ParseError('bad Request-URI');
    return { method: strict[1], uri, problem };
  }
  const loose = LOOSE_REQUEST_RE.exec(start);
  if (!loose) {
    // A method that is no token (a byte lost or flipped on the way) in a line that still ends in
    // the SIP version: a request all the same, answered 400 like any other malformed one.
    const garbled = GARBLED_METHOD_RE.exec(start);
    if (garbled) return { method: garbled[1], uri: garbled[2], problem: new ParseError('bad Method (not a token, §25.1)') };
    // A status line we cannot read is a response: it is never answered, so it is not kept.
    if (/^SIP\//i.test(start)) throw new ParseError(`bad start line: ${start.slice(0, 60)}`);
    // Any other line is taken as a request's, unreadable: its headers decide whether it is SIP
    // enough to answer (sip-core.ts: a Via, or two of From, To, Call-ID, CSeq), so a request
    // whose start line lost its blanks or gained a CR or LF still gets its 400.
    return { method: /^[^ \t]*/.exec(start)![0], uri: '', problem: new ParseError(`bad start line: ${start.slice(0, 60)}`) };
  }
  const version = VERSION_RE.exec(loose[2]);
  const uri = version ? loose[2].slice(0, version.index).trim() : loose[2];
  if (version && version[1] !== '2.0') return { method: loose[1], uri, problem: new ParseError(`SIP version ${version[1]} not supported`, null, 505) };
  return { method: loose[1], uri, problem: new ParseError('malformed request line (§7.1: Method SP Request-URI SP SIP/2.0)') };
}

/** `;;` or a trailing `;` in a Via, or in a Contact's header parameters (after its `>`). */
function emptyParam(name: string, value: string): boolean {
  if (name !== 'Via' && name !== 'Contact') return false;
  const params = name === 'Contact' && value.includes('>') ? value.slice(headerParamsAt(value)) : value;
  return /;\s*(;|$)/.test(params);
}

function duplicated(msg: SipMessage): string | null {
  for (const name of SINGLE_VALUED) if (msg.getAll(name).length > 1) return `${name} appears more than once`;
  return null;
}

/** §19.1.1: a Request-URI carries no headers; `?` after the userinfo starts them (RFC 4475 §3.1.2.11). */
function uriHasHeaders(uri: string): boolean {
  if (!/^sips?:/i.test(uri)) return false;
  return uri.indexOf('?', uri.lastIndexOf('@') + 1) !== -1;
}

const EMPTY = Buffer.alloc(0);

/**
 * The body in its own memory: a view into the datagram would keep the whole receive buffer
 * alive as long as the message (transactions keep their request for up to 64*T1), and a
 * pooled copy its 8 KB slab.
 */
function ownBody(buf: Buffer, start: number, end: number): Buffer {
  return end > start ? unpooledCopy(buf.subarray(start, end)) : EMPTY;
}

/** Joins folded continuation lines (leading whitespace) onto the previous header (§7.3.1). */
function unfold(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if ((l.startsWith(' ') || l.startsWith('\t')) && out.length > 1) out[out.length - 1] += ' ' + l.trim();
    else out.push(l);
  }
  return out;
}

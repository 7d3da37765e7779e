// RFC 3261 §7 message parser. Takes one complete datagram (or one framed stream message)
// and returns a SipMessage, or throws a ParseError that says whether enough was read to answer.
import { canonicalHeaderName, isListHeader, splitHeaderList } from './header-names.ts';
import { SipMessage, unpooledCopy } from './sip-message.ts';

export class ParseError extends Error {
  /** The partial message when its start line and headers could be read: a 400 can be sent. */
  readonly partial: SipMessage | null;
  /** The answer due when `partial` is set: 400, or 416 for a Request-URI scheme we do not know (§8.2.2.1). */
  readonly status: number;
  constructor(detail: string, partial: SipMessage | null = null, status = 400) {
    super(detail);
    this.name = 'ParseError';
    this.partial = partial;
    this.status = status;
  }
}

const TOKEN_RE = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const STATUS_RE = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/;
const REQUEST_RE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/;

/** Where the header block ends (index of the blank line's CRLFCRLF), or -1. */
export function headerEnd(buf: Buffer, from = 0): number {
  return buf.indexOf('\r\n\r\n', from, 'latin1');
}

export function parseMessage(buf: Buffer, opts: { stream?: boolean } = {}): SipMessage {
  const end = headerEnd(buf);
  if (end === -1) throw new ParseError('no end of headers');
  const head = buf.toString('utf8', 0, end);
  const lines = unfold(head.split('\r\n'));
  const start = lines[0] ?? '';
  const msg = new SipMessage();
  const sm = STATUS_RE.exec(start);
  if (sm) {
    msg.status = Number(sm[1]);
    msg.reason = sm[2];
  } else {
    const rm = REQUEST_RE.exec(start);
    if (!rm) throw new ParseError(`bad start line: ${start.slice(0, 60)}`);
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(rm[2])) throw new ParseError('bad Request-URI');
    msg.method = rm[1];
    msg.uri = rm[2];
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
      for (const v of splitHeaderList(value)) msg.headers.push({ name, value: v });
    } else {
      msg.headers.push({ name, value });
    }
  }
  const bodyStart = end + 4;
  const available = buf.length - bodyStart;
  const cl = msg.get('Content-Length');
  if (cl !== undefined) {
    if (!/^\d{1,7}$/.test(cl)) throw new ParseError('bad Content-Length', msg);
    const n = Number(cl);
    // §18.3: over UDP a longer datagram is truncated to Content-Length; a shorter one is an error.
    if (n > available) throw new ParseError('body shorter than Content-Length', msg);
    msg.body = ownBody(buf, bodyStart, bodyStart + n);
  } else {
    if (opts.stream) throw new ParseError('Content-Length required on a stream transport', msg);
    msg.body = ownBody(buf, bodyStart, buf.length);
  }
  if (bad) throw new ParseError(bad, msg);
  if (msg.uri !== null && !/^(sips?|tel):/i.test(msg.uri)) throw new ParseError('unsupported URI scheme', msg, 416);
  return msg;
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

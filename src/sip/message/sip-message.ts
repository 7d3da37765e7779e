// One SIP request or response: start line, ordered header fields (canonical names, list
// headers split into one entry per value) and a body. Serialises with a correct Content-Length.
import { canonicalHeaderName } from './header-names.ts';
import { SipError } from './sip-error.ts';
import { parseCSeq, parseNameAddr, parseVia, type CSeq, type NameAddr, type Via } from './header-values.ts';

export interface HeaderField {
  name: string;
  value: string;
}

interface View<T> {
  raw: string;
  view: T;
}

/**
 * A copy of `b` in its own memory. Small buffers (Buffer.from of a string, a subarray) share
 * 8 KB pool slabs; one kept for 32 s by a transaction keeps its whole slab, mostly garbage.
 */
export function unpooledCopy(b: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}

export class SipMessage {
  method: string | null = null;
  uri: string | null = null;
  status = 0;
  reason = '';
  headers: HeaderField[] = [];
  body: Buffer = Buffer.alloc(0);
  /** Parsed from bytes with a line ending in LF alone: pass it on re-serialised (CRLF), not as received. */
  bareLf = false;
  /** A request from the network: the address its packet came from (stampReceived). */
  sourceAddress: string | null = null;
  private keepsWire = false;
  private wire: Buffer | null = null;

  static request(method: string, uri: string): SipMessage {
    const m = new SipMessage();
    m.method = method;
    m.uri = uri;
    return m;
  }

  static response(status: number, reason: string): SipMessage {
    const m = new SipMessage();
    m.status = status;
    m.reason = reason;
    return m;
  }

  get isRequest(): boolean {
    return this.method !== null;
  }

  get(name: string): string | undefined {
    const n = canonicalHeaderName(name);
    for (const h of this.headers) if (h.name === n) return h.value;
    return undefined;
  }

  getAll(name: string): string[] {
    const n = canonicalHeaderName(name);
    const out: string[] = [];
    for (const h of this.headers) if (h.name === n) out.push(h.value);
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  add(name: string, value: string): this {
    this.wire = null;
    this.headers.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Replaces every field of that name with one value, at the position of the first. */
  set(name: string, value: string): this {
    this.wire = null;
    const n = canonicalHeaderName(name);
    const idx = this.headers.findIndex((h) => h.name === n);
    this.remove(n);
    if (idx === -1) this.headers.push({ name: n, value });
    else this.headers.splice(Math.min(idx, this.headers.length), 0, { name: n, value });
    return this;
  }

  /** Puts a value before the existing ones (a new top Via). */
  prepend(name: string, value: string): this {
    this.wire = null;
    this.headers.unshift({ name: canonicalHeaderName(name), value });
    return this;
  }

  remove(name: string): this {
    this.wire = null;
    const n = canonicalHeaderName(name);
    this.headers = this.headers.filter((h) => h.name !== n);
    return this;
  }

  // Parsed views; each throws a SipError(400) when the header is missing or malformed. A view
  // is parsed once per header value and shared by every caller (the core reads From, To, CSeq
  // and Via several times per message): treat views as read-only. Keyed on the raw value, so
  // a header rewritten in place (even through `headers` directly) is parsed afresh.
  private cseqView: View<CSeq> | null = null;
  private fromView: View<NameAddr> | null = null;
  private toView: View<NameAddr> | null = null;
  private viaView: View<Via> | null = null;

  get callId(): string {
    return this.required('Call-ID').trim();
  }
  get cseq(): CSeq {
    const raw = this.required('CSeq');
    if (this.cseqView?.raw !== raw) this.cseqView = { raw, view: parseCSeq(raw) };
    return this.cseqView.view;
  }
  get from(): NameAddr {
    const raw = this.required('From');
    if (this.fromView?.raw !== raw) this.fromView = { raw, view: parseNameAddr(raw) };
    return this.fromView.view;
  }
  get to(): NameAddr {
    const raw = this.required('To');
    if (this.toView?.raw !== raw) this.toView = { raw, view: parseNameAddr(raw) };
    return this.toView.view;
  }
  get topVia(): Via {
    const raw = this.required('Via');
    if (this.viaView?.raw !== raw) this.viaView = { raw, view: parseVia(raw) };
    return this.viaView.view;
  }

  private required(name: string): string {
    const v = this.get(name);
    if (v === undefined) throw new SipError(400, 'Bad Request', `missing ${name}`);
    return v;
  }

  clone(): SipMessage {
    const m = new SipMessage();
    m.method = this.method;
    m.uri = this.uri;
    m.status = this.status;
    m.reason = this.reason;
    m.headers = this.headers.map((h) => ({ ...h }));
    m.body = this.body;
    return m;
  }

  startLine(): string {
    return this.isRequest ? `${this.method} ${this.uri} SIP/2.0` : `SIP/2.0 ${this.status} ${this.reason}`;
  }

  /**
   * From now on the serialised bytes are kept and reused until a mutator (add, set, prepend,
   * remove) changes the message: for a response sent, retransmitted and echoed to the app.
   * Writing `headers` or `body` directly after this is not seen: finish the message first.
   */
  keepWire(): this {
    this.keepsWire = true;
    return this;
  }

  /** A response that is only its bytes (no headers): what a transaction keeps to resend. */
  static wireOnly(status: number, reason: string, wire: Buffer): SipMessage {
    const m = SipMessage.response(status, reason);
    m.keepsWire = true;
    m.wire = unpooledCopy(wire);
    return m;
  }

  /** Serialises; Content-Length always states the body's byte length (RFC 3261 §20.14). */
  toBuffer(): Buffer {
    if (this.wire) return this.wire;
    let head = this.startLine() + '\r\n';
    for (const h of this.headers) {
      if (h.name === 'Content-Length') continue;
      head += `${h.name}: ${h.value}\r\n`;
    }
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    const headBuf = Buffer.from(head, 'utf8');
    const wire = this.body.length ? Buffer.concat([headBuf, this.body]) : headBuf;
    if (this.keepsWire) this.wire = wire;
    return wire;
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

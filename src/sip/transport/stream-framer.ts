// Splits a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3).
// Leading CRLFs are keep-alives (RFC 5626 §3.5.1): a double CRLF ping is reported so it can be ponged.

export type FrameResult =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  | { kind: 'error'; reason: string };

export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  push(chunk: Buffer): FrameResult[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: FrameResult[] = [];
    for (;;) {
      let skip = 0;
      while (skip + 1 < this.buf.length && this.buf[skip] === 0x0d && this.buf[skip + 1] === 0x0a) skip += 2;
      if (skip >= 4) out.push({ kind: 'ping' });
      if (skip) this.buf = this.buf.subarray(skip);
      if (!this.buf.length) break;
      const end = this.buf.indexOf('\r\n\r\n', 0, 'latin1');
      if (end === -1) {
        if (this.buf.length > this.maxSize) return this.fail(out, 'headers exceed maxMessageSize');
        break;
      }
      const head = this.buf.toString('latin1', 0, end);
      const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(head);
      if (!m) return this.fail(out, 'no Content-Length on stream');
      const total = end + 4 + Number(m[1]);
      if (total > this.maxSize) return this.fail(out, 'message exceeds maxMessageSize');
      if (this.buf.length < total) break;
      out.push({ kind: 'message', data: Buffer.from(this.buf.subarray(0, total)) });
      this.buf = this.buf.subarray(total);
    }
    return out;
  }

  private fail(out: FrameResult[], reason: string): FrameResult[] {
    this.buf = Buffer.alloc(0);
    out.push({ kind: 'error', reason });
    return out;
  }
}

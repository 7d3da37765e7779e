// Splits a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3).
// Leading CRLFs are keep-alives (RFC 5626 §3.5.1): a double CRLF ping is reported so it can be ponged.

export type FrameResult =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  /** `head`: the header block of a message whose length could not be read, so it can be answered 400. */
  | { kind: 'error'; reason: string; head?: Buffer; oversized?: boolean };

export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  /** Bytes of a message begun but not yet whole. */
  get buffered(): number {
    return this.buf.length;
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
      const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r/i.exec(head + '\r');
      if (!m) return this.fail(out, 'no usable Content-Length on a stream (§18.3)', Buffer.from(this.buf.subarray(0, end + 4)));
      const total = end + 4 + Number(m[1]);
      // The header block is whole: hand it back so the sender hears why (513) before the close.
      if (total > this.maxSize) return this.fail(out, 'message exceeds maxMessageSize', Buffer.from(this.buf.subarray(0, end + 4)), true);
      if (this.buf.length < total) break;
      out.push({ kind: 'message', data: Buffer.from(this.buf.subarray(0, total)) });
      this.buf = this.buf.subarray(total);
    }
    return out;
  }

  private fail(out: FrameResult[], reason: string, head?: Buffer, oversized = false): FrameResult[] {
    this.buf = Buffer.alloc(0);
    out.push({ kind: 'error', reason, head, oversized });
    return out;
  }
}

// drachtio control framing: `<decimal byte length>#<payload>`. The length may be split
// across reads; more than 5 digits or a non-digit before '#' is a protocol error.

export type ControlFrame = { kind: 'message'; payload: string } | { kind: 'error'; reason: string };

const HASH = 0x23;
export const MAX_CONTROL_MESSAGE = 99999;

export class ControlFramer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ControlFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: ControlFrame[] = [];
    for (;;) {
      const limit = Math.min(this.buf.length, 6);
      let hash = -1;
      for (let i = 0; i < limit; i++) {
        const c = this.buf[i];
        if (c === HASH) {
          hash = i;
          break;
        }
        if (c < 0x30 || c > 0x39) return this.fail(out, 'non-digit in length');
      }
      if (hash === -1) {
        if (this.buf.length >= 6) return this.fail(out, 'length longer than 5 digits');
        break;
      }
      if (hash === 0) return this.fail(out, 'empty length');
      const len = Number(this.buf.toString('latin1', 0, hash));
      if (len === 0) return this.fail(out, 'zero length');
      const total = hash + 1 + len;
      if (this.buf.length < total) break;
      out.push({ kind: 'message', payload: this.buf.toString('utf8', hash + 1, total) });
      this.buf = this.buf.subarray(total);
      if (!this.buf.length) break;
    }
    return out;
  }

  private fail(out: ControlFrame[], reason: string): ControlFrame[] {
    this.buf = Buffer.alloc(0);
    out.push({ kind: 'error', reason });
    return out;
  }
}

/** Frames one payload for the wire. */
export function frame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}#`, 'latin1'), body]);
}

/** Frames one payload as a string (the socket encodes it once, as UTF-8). */
export function frameString(payload: string): string {
  return `${Buffer.byteLength(payload, 'utf8')}#${payload}`;
}

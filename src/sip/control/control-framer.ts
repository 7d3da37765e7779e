// drachtio control framing: `<decimal byte length>#<payload>`. The length may be split
// across reads; more than 5 digits or a non-digit before '#' is a protocol error.

export type ControlFrame = { kind: 'message'; payload: string } | { kind: 'error'; reason: string };

const HASH = 0x23;
export const MAX_CONTROL_MESSAGE = 99999;

export class ControlFramer {
  /**
   * Bytes received and not framed yet, in arrival order, joined once a frame is whole:
   * joining them at every read copied the pending bytes each time, so a frame of 99999
   * bytes dripped a few bytes per read cost gigabytes of copying (before authentication).
   */
  private chunks: Buffer[] = [];
  private have = 0;
  /** The pending frame's whole length (digits, '#', payload) once its length was read; 0 before. */
  private need = 0;

  push(chunk: Buffer): ControlFrame[] {
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.have += chunk.length;
    if (this.need > 0 && this.have < this.need) return [];
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.have);
    this.chunks = [];
    this.have = 0;
    this.need = 0;
    const out: ControlFrame[] = [];
    for (;;) {
      const limit = Math.min(buf.length, 6);
      let hash = -1;
      for (let i = 0; i < limit; i++) {
        const c = buf[i];
        if (c === HASH) {
          hash = i;
          break;
        }
        if (c < 0x30 || c > 0x39) return this.fail(out, 'non-digit in length');
      }
      if (hash === -1) {
        if (buf.length >= 6) return this.fail(out, 'length longer than 5 digits');
        break;
      }
      if (hash === 0) return this.fail(out, 'empty length');
      const len = Number(buf.toString('latin1', 0, hash));
      if (len === 0) return this.fail(out, 'zero length');
      const total = hash + 1 + len;
      if (buf.length < total) {
        this.need = total;
        break;
      }
      out.push({ kind: 'message', payload: buf.toString('utf8', hash + 1, total) });
      buf = buf.subarray(total);
      if (!buf.length) break;
    }
    if (buf.length) {
      this.chunks.push(buf);
      this.have = buf.length;
    }
    return out;
  }

  private fail(out: ControlFrame[], reason: string): ControlFrame[] {
    this.chunks = [];
    this.have = 0;
    this.need = 0;
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

// Splits a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3).
// Leading CRLFs are keep-alives (RFC 5626 §3.5.1): a double CRLF ping is reported so it can be ponged,
// however the stream cut it (its line ends are counted across reads).
//
// Linear in the bytes received however they are cut: a message begun but not whole
// waits in one growing buffer (not re-concatenated per read), the search for the end
// of its header block resumes where the last one stopped, and its length is read once.
// (A peer dripping a 64 KiB message 4 bytes at a time used to cost a copy and a rescan
// of everything pending per read: quadratic.)

import { bodyStart } from '../message/parse-message.ts';

export type FrameResult =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  /** `head`: the header block of a message whose length could not be read, so it can be answered 400. */
  | { kind: 'error'; reason: string; head?: Buffer; oversized?: boolean };

const MIN_CAPACITY = 4096;
/** A pending buffer grown past this is let go once empty (one large message must not pin it). */
const KEEP_CAPACITY = 65_536;

export class StreamFramer {
  private store: Buffer = Buffer.alloc(0);
  /** Bytes pending in store (a message begun but not whole, or leading CRLFs). */
  private len = 0;
  /** Bytes of the pending data already searched for the end of the header block. */
  private searched = 0;
  /** The pending message's whole length once its header block was read; -1 before. */
  private total = -1;
  /** Line-end bytes read since the last message or ping (a ping cut across reads is still one). */
  private blank = 0;
  private readonly maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  /** Bytes of a message begun but not yet whole. */
  get buffered(): number {
    return this.len;
  }

  push(chunk: Buffer): FrameResult[] {
    const out: FrameResult[] = [];
    const stored = this.len > 0;
    let data: Buffer;
    if (!stored) data = chunk;
    else {
      this.append(chunk);
      data = this.store.subarray(0, this.len);
    }
    let at = 0;
    for (;;) {
      if (this.total < 0) {
        let skip = at;
        // §7.5: line ends before a start line are ignored (a bare LF too, as in the header block).
        for (;;) {
          if (skip + 1 < data.length && data[skip] === 0x0d && data[skip + 1] === 0x0a) skip += 2;
          else if (data[skip] === 0x0a) skip += 1;
          else break;
        }
        this.blank += skip - at;
        if (this.blank >= 4) {
          out.push({ kind: 'ping' });
          this.blank = 0;
        }
        // A start line begins (not the CR of a CRLF the next read completes): the run is over.
        if (skip < data.length && !(data[skip] === 0x0d && skip + 1 === data.length)) this.blank = 0;
        if (skip > at) {
          at = skip;
          this.searched = 0;
        }
        if (at >= data.length) break;
        // The blank line (LF [CR] LF: bare LF line ends are taken, see parse-message.ts)
        // may straddle the last search's end: back up three bytes.
        const body = bodyStart(data, at + Math.max(0, this.searched - 3));
        if (body === -1) {
          this.searched = data.length - at;
          if (this.searched > this.maxSize) {
            // The whole lines that fit go back, ended as a header block, so the sender hears why
            // (513, when its Via and the rest came before the cut) before the close.
            const cut = data.lastIndexOf(0x0a, at + this.maxSize - 1);
            const head = cut > at ? Buffer.concat([data.subarray(at, cut + 1), Buffer.from('\r\n')]) : undefined;
            return this.fail(out, 'headers exceed maxMessageSize', head, head !== undefined);
          }
          break;
        }
        const head = data.toString('latin1', at, body);
        // Its value may be folded onto the next line (LWS, §7.3.1), as the parser reads it.
        const m = /\n(?:content-length|l)[ \t]*:(?:[ \t]|\r?\n[ \t])*(\d+)(?:[ \t]|\r?\n[ \t])*\r?\n/i.exec(head);
        if (!m) return this.fail(out, 'no usable Content-Length on a stream (§18.3)', Buffer.from(data.subarray(at, body)));
        const total = body - at + Number(m[1]);
        // The header block is whole: hand it back so the sender hears why (513) before the close.
        if (total > this.maxSize) return this.fail(out, 'message exceeds maxMessageSize', Buffer.from(data.subarray(at, body)), true);
        this.total = total;
      }
      if (data.length - at < this.total) break;
      out.push({ kind: 'message', data: Buffer.from(data.subarray(at, at + this.total)) });
      at += this.total;
      this.total = -1;
      this.searched = 0;
    }
    this.keep(data, at, stored);
    return out;
  }

  /** Keeps data[at..] as the pending bytes (data is the store when stored, else a chunk not copied yet). */
  private keep(data: Buffer, at: number, stored: boolean): void {
    const left = data.length - at;
    if (left === 0) {
      this.len = 0;
      if (this.store.length > KEEP_CAPACITY) this.store = Buffer.alloc(0);
      return;
    }
    if (stored) {
      if (at > 0) this.store.copyWithin(0, at, this.len);
      this.len = left;
      return;
    }
    this.len = 0;
    this.append(data.subarray(at));
  }

  private append(chunk: Buffer): void {
    const need = this.len + chunk.length;
    if (need > this.store.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.store.length * 2, MIN_CAPACITY));
      this.store.copy(grown, 0, 0, this.len);
      this.store = grown;
    }
    chunk.copy(this.store, this.len);
    this.len = need;
  }

  private fail(out: FrameResult[], reason: string, head?: Buffer, oversized = false): FrameResult[] {
    this.len = 0;
    this.searched = 0;
    this.total = -1;
    this.blank = 0;
    out.push({ kind: 'error', reason, head, oversized });
    return out;
  }
}

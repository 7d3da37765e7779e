// A client of rtpengine's ng control protocol: a cookie, a space, then a bencoded
// dictionary, over UDP (rtpengine's docs, "The NG Control Protocol"). The reply
// carries the same cookie and a dictionary with `result` (`ok`, `error` with
// `error-reason`). Used by bench:siprec to drive rtpengine directly, with no SIP
// proxy in between.
import dgram from 'node:dgram';

export type BValue = string | number | Buffer | BValue[] | { [key: string]: BValue };

export function bencode(v: BValue): Buffer {
  if (typeof v === 'number') return Buffer.from(`i${Math.trunc(v)}e`);
  if (typeof v === 'string' || Buffer.isBuffer(v)) {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
    return Buffer.concat([Buffer.from(`${b.length}:`), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(v[k]!)]), Buffer.from('e')]);
}

/** Decodes one bencoded value at `at`; strings come back as UTF-8 text. */
export function bdecode(b: Buffer, at = 0): { value: BValue; end: number } {
  const c = b[at];
  if (c === 0x69) {
    const e = b.indexOf(0x65, at);
    return { value: Number(b.toString('latin1', at + 1, e)), end: e + 1 };
  }
  if (c === 0x6c || c === 0x64) {
    const list: BValue[] = [];
    let p = at + 1;
    while (b[p] !== 0x65) {
      if (p >= b.length) throw new Error('bencode: unterminated list or dictionary');
      const r = bdecode(b, p);
      list.push(r.value);
      p = r.end;
    }
    if (c === 0x6c) return { value: list, end: p + 1 };
    const dict: Record<string, BValue> = {};
    for (let i = 0; i + 1 < list.length; i += 2) dict[String(list[i])] = list[i + 1]!;
    return { value: dict, end: p + 1 };
  }
  const colon = b.indexOf(0x3a, at);
  if (colon < 0) throw new Error('bencode: bad string');
  const len = Number(b.toString('latin1', at, colon));
  return { value: b.toString('utf8', colon + 1, colon + 1 + len), end: colon + 1 + len };
}

export class RtpengineNg {
  private readonly sock = dgram.createSocket('udp4');
  private readonly waiting = new Map<string, { resolve: (r: Record<string, BValue>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private seq = 0;

  private constructor(private readonly port: number) {
    this.sock.on('message', (msg) => {
      const space = msg.indexOf(0x20);
      if (space < 0) return;
      const cookie = msg.toString('latin1', 0, space);
      const w = this.waiting.get(cookie);
      if (!w) return;
      this.waiting.delete(cookie);
      clearTimeout(w.timer);
      try {
        w.resolve(bdecode(msg, space + 1).value as Record<string, BValue>);
      } catch (err) {
        w.reject(err as Error);
      }
    });
  }

  static async open(port: number): Promise<RtpengineNg> {
    const ng = new RtpengineNg(port);
    await new Promise<void>((r) => ng.sock.bind(0, '127.0.0.1', () => r()));
    return ng;
  }

  /** Sends a command and waits for its reply; rejects on `result: error` or after `timeoutMs`. */
  command(dict: Record<string, BValue>, timeoutMs = 5000): Promise<Record<string, BValue>> {
    const cookie = `${process.pid}_${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(cookie);
        reject(new Error(`rtpengine: no reply to ${String(dict.command)} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(cookie, {
        resolve: (r) => (r.result === 'ok' || r.result === 'pong' ? resolve(r) : reject(new Error(`rtpengine ${String(dict.command)}: ${String(r.result)} ${String(r['error-reason'] ?? '')}`))),
        reject,
        timer,
      });
      this.sock.send(Buffer.concat([Buffer.from(`${cookie} `), bencode(dict)]), this.port, '127.0.0.1');
    });
  }

  close(): void {
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    this.sock.close();
  }
}

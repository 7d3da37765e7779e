// A bare UDP socket for sending hand-made (often broken) SIP and reading what comes back.
import dgram from 'node:dgram';

export class RawSipClient {
  private readonly socket = dgram.createSocket('udp4');
  private readonly queue: string[] = [];
  private waiters: Array<(m: string) => void> = [];

  /** `host`: the loopback address to send from (another one, 127.0.0.2, is another source). */
  static async open(host = '127.0.0.1'): Promise<RawSipClient> {
    const c = new RawSipClient();
    await new Promise<void>((r) => c.socket.bind(0, host, () => r()));
    c.socket.on('message', (m) => {
      const w = c.waiters.shift();
      if (w) w(m.toString());
      else c.queue.push(m.toString());
    });
    return c;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends to `host` (default 127.0.0.1; another loopback address is another cluster node). */
  send(port: number, text: string | Buffer, host = '127.0.0.1'): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text.replace(/\r?\n/g, '\r\n')) : text, port, host);
  }

  /** The next datagram received (rejects after `ms`). */
  next(ms = 3000): Promise<string> {
    const q = this.queue.shift();
    if (q !== undefined) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error('no SIP message received'));
      }, ms);
      const done = (m: string) => {
        clearTimeout(t);
        resolve(m);
      };
      this.waiters.push(done);
    });
  }

  /**
   * The next message whose start line matches `re`, skipping others (100 Trying and the like);
   * with `callId`, also skipping other calls' messages (a final response retransmitted for an
   * earlier call before its ACK was read, say).
   */
  async nextMatching(re: RegExp, ms = 3000, callId?: string): Promise<string> {
    for (;;) {
      const m = await this.next(ms);
      if (!re.test(m.split('\r\n')[0])) continue;
      if (callId === undefined || new RegExp(`^(Call-ID|i):\\s*${callId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'mi').test(m)) return m;
    }
  }

  close(): void {
    this.socket.close();
  }
}

let seq = 0;

/** A request from this client; `over` replaces or removes (value null) headers. */
export function request(method: string, clientPort: number, over: Record<string, string | null> = {}, body = ''): { text: string; branch: string; callId: string } {
  seq++;
  const branch = `z9hG4bK-raw-${process.pid}-${seq}`;
  const callId = `raw-${process.pid}-${seq}@127.0.0.1`;
  const h: Record<string, string | null> = {
    Via: `SIP/2.0/UDP 127.0.0.1:${clientPort};branch=${branch}`,
    'Max-Forwards': '70',
    From: `<sip:raw@127.0.0.1:${clientPort}>;tag=raw${seq}`,
    To: '<sip:parley@127.0.0.1>',
    'Call-ID': callId,
    CSeq: `1 ${method}`,
    Contact: `<sip:raw@127.0.0.1:${clientPort}>`,
    ...over,
  };
  let text = `${method} sip:parley@127.0.0.1 SIP/2.0\r\n`;
  for (const [k, v] of Object.entries(h)) if (v !== null) text += `${k}: ${v}\r\n`;
  if (!('Content-Length' in over)) text += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return { text: text + '\r\n' + body, branch, callId };
}

let branches = 0;

/** The value of header `name` in `msg` ('' when absent). */
export const header = (msg: string, name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(msg)?.[1]?.trim() ?? '';
/** Every value of header `name` in `msg`'s head, one per header line, in order. */
export function headerValues(msg: string, name: string): string[] {
  const head = msg.split('\r\n\r\n')[0]!;
  return head.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(name.length + 1).trim());
}
/** The tag parameter of a From or To value. */
export const tagOf = (value: string): string => /;tag=([^;\s>]+)/.exec(value)?.[1] ?? '';
/** The URI of a Contact, with or without angle brackets. */
export function contactUri(msg: string): string {
  const c = header(msg, 'Contact');
  return /<([^>]+)>/.exec(c)?.[1] ?? c.split(';')[0]!;
}

/**
 * A request of the dialog of `msg`, to `uri`: sent by the recipient of `msg` when it is a
 * request (From and To swapped; `ownTag` its To tag), by the sender of the request `msg`
 * answers when it is a response.
 */
export function inDialogFrom(msg: string, ownTag: string, method: string, seq: number, viaPortNo: number, uri: string, type: string, body: string): string {
  const isResponse = msg.startsWith('SIP/2.0 ');
  const to = header(msg, 'To');
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${viaPortNo};branch=z9hG4bK-dlg-${method}-${seq}-${process.pid}-${++branches}`,
    'Max-Forwards: 70',
    `From: ${isResponse ? header(msg, 'From') : /;tag=/.test(to) ? to : `${to};tag=${ownTag}`}`,
    `To: ${isResponse ? to : header(msg, 'From')}`,
    `Call-ID: ${header(msg, 'Call-ID')}`,
    `CSeq: ${seq} ${method}`,
    `Content-Type: ${type}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

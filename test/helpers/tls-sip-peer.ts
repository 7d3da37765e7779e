// One SIP-over-TLS connection driven by hand from a test (Debian's SIPp has no TLS): send text,
// read whole messages (framed by Content-Length with Parley's own StreamFramer), see it close.
// `TlsSipServer` is the other side: a TLS listener handing each accepted connection over as a peer.
import net from 'node:net';
import tls from 'node:tls';
import { StreamFramer } from '../../src/sip/transport/stream-framer.ts';

export class TlsSipPeer {
  private readonly framer = new StreamFramer(65536);
  private readonly queue: string[] = [];
  private waiters: Array<(m: string) => void> = [];
  /** Resolves when the connection is gone (either side closed it). */
  readonly closed: Promise<void>;

  constructor(readonly socket: tls.TLSSocket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined); // a refused handshake is what some tests want; `closed` tells
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.framer.push(chunk)) {
        if (f.kind !== 'message') continue;
        const m = f.data.toString('utf8');
        const w = this.waiters.shift();
        if (w) w(m);
        else this.queue.push(m);
      }
    });
  }

  /** Connects and finishes the handshake (rejects if it fails). */
  static async connect(port: number, opts: tls.ConnectionOptions = {}): Promise<TlsSipPeer> {
    const socket = tls.connect({ host: '127.0.0.1', port, ...opts });
    const peer = new TlsSipPeer(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('closed during the handshake')));
    });
    return peer;
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(text: string): void {
    this.socket.write(text.replace(/\r?\n/g, '\r\n'));
  }

  next(ms = 3000): Promise<string> {
    const q = this.queue.shift();
    if (q !== undefined) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error('no SIP message received over TLS'));
      }, ms);
      const done = (m: string): void => {
        clearTimeout(t);
        resolve(m);
      };
      this.waiters.push(done);
    });
  }

  /** The next message whose start line matches `re`, skipping others (100 Trying and the like). */
  async nextMatching(re: RegExp, ms = 3000): Promise<string> {
    for (;;) {
      const m = await this.next(ms);
      if (re.test(m.split('\r\n')[0])) return m;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export class TlsSipServer {
  private readonly waiting: TlsSipPeer[] = [];
  private waiters: Array<(p: TlsSipPeer) => void> = [];
  readonly peers: TlsSipPeer[] = [];

  private constructor(private readonly server: tls.Server) {
    server.on('secureConnection', (s) => {
      const p = new TlsSipPeer(s);
      this.peers.push(p);
      const w = this.waiters.shift();
      if (w) w(p);
      else this.waiting.push(p);
    });
  }

  static async listen(opts: tls.TlsOptions): Promise<TlsSipServer> {
    const server = tls.createServer(opts);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return new TlsSipServer(server);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The next connection accepted. */
  accepted(ms = 3000): Promise<TlsSipPeer> {
    const p = this.waiting.shift();
    if (p) return Promise.resolve(p);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no TLS connection accepted')), ms);
      this.waiters.push((peer) => {
        clearTimeout(t);
        resolve(peer);
      });
    });
  }

  close(): void {
    for (const p of this.peers) p.close();
    this.server.close();
  }
}

/** Headers of a SIP message by lower-case name (first value). */
export function header(msg: string, name: string): string | undefined {
  const re = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*)$`, 'im');
  return re.exec(msg)?.[1]?.trim();
}

/** A response to `req` (Via, From, To, Call-ID, CSeq copied), with extra header lines and a body. */
export function responseTo(req: string, status: string, extra: string[] = [], body = '', toTag = ''): string {
  const lines = req.split('\r\n');
  const keep = lines
    .filter((l) => /^(via|v|from|f|to|t|call-id|i|cseq)\s*:/i.test(l))
    .map((l) => (toTag && /^(to|t)\s*:/i.test(l) && !/;\s*tag=/i.test(l) ? `${l};tag=${toTag}` : l));
  return [`SIP/2.0 ${status}`, ...keep, ...extra, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
}

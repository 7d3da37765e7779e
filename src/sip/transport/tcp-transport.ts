// One TCP listener plus the connections it accepted or opened. Connections are reused
// for every message to the same remote address and port (RFC 3261 §18), and kept alive.
import net from 'node:net';
import type { Logger } from '../../util/logger.ts';
import { StreamFramer } from './stream-framer.ts';
import type { Inbound, SentInfo } from './transport-types.ts';

interface Conn {
  id: string;
  socket: net.Socket;
  framer: StreamFramer;
  /** Messages waiting for an outbound connect to finish. */
  queue: Buffer[] | null;
  /** Told when that connect fails, so the transaction can answer 503 at once (§8.1.3.1). */
  connectErrors: Array<(err: Error) => void>;
}

const IDLE_MS = 10 * 60 * 1000;

export class TcpTransport {
  private readonly server: net.Server;
  private readonly conns = new Map<string, Conn>();
  private readonly byRemote = new Map<string, Conn>();
  private seq = 0;
  private closed = false;
  private boundPort = 0;
  readonly host: string;

  private constructor(
    host: string,
    private readonly maxSize: number,
    private readonly log: Logger,
    private readonly onData: (i: Inbound) => void,
  ) {
    this.host = host;
    this.server = net.createServer((s) => this.adopt(s, null));
    this.server.on('error', (err) => log.error({ err }, 'tcp server error'));
  }

  static async listen(host: string, port: number, maxSize: number, log: Logger, onData: (i: Inbound) => void): Promise<TcpTransport> {
    const t = new TcpTransport(host, maxSize, log, onData);
    await new Promise<void>((resolve, reject) => {
      t.server.once('error', reject);
      t.server.listen({ host, port, backlog: 1024 }, () => {
        t.server.off('error', reject);
        resolve();
      });
    });
    t.boundPort = (t.server.address() as net.AddressInfo).port;
    return t;
  }

  get port(): number {
    return this.boundPort;
  }

  private key(address: string, port: number): string {
    return `${address}:${port}`;
  }

  private adopt(socket: net.Socket, pending: Buffer[] | null, remoteKey?: string): Conn {
    const conn: Conn = { id: `tcp-${++this.seq}`, socket, framer: new StreamFramer(this.maxSize), queue: pending, connectErrors: [] };
    this.conns.set(conn.id, conn);
    const rk = remoteKey ?? this.key(socket.remoteAddress ?? '', socket.remotePort ?? 0);
    this.byRemote.set(rk, conn);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30000);
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.on('data', (chunk) => {
      for (const f of conn.framer.push(chunk)) {
        if (f.kind === 'ping') socket.write('\r\n');
        else if (f.kind === 'error') {
          this.log.warn({ conn: conn.id, reason: f.reason }, 'tcp framing error, closing connection');
          socket.destroy();
          return;
        } else {
          this.onData({
            data: f.data,
            source: { transport: 'tcp', address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
            local: { address: socket.localAddress ?? this.host, port: socket.localPort ?? this.boundPort },
            connectionId: conn.id,
          });
        }
      }
    });
    socket.on('error', (err) => {
      this.log.debug({ err, conn: conn.id }, 'tcp connection error');
      if (conn.queue) for (const cb of conn.connectErrors.splice(0)) cb(err);
    });
    socket.on('close', () => {
      this.conns.delete(conn.id);
      if (this.byRemote.get(rk) === conn) this.byRemote.delete(rk);
    });
    return conn;
  }

  /** Sends on the given connection if it is still open, else on a connection to address:port. */
  send(address: string, port: number, data: Buffer, connectionId: string | null, onError?: (err: Error) => void): SentInfo {
    let conn = connectionId ? this.conns.get(connectionId) : undefined;
    conn ??= this.byRemote.get(this.key(address, port));
    if (!conn) {
      const socket = net.connect({ host: address, port, localAddress: this.host });
      conn = this.adopt(socket, [], this.key(address, port));
      const c = conn;
      socket.once('connect', () => {
        const q = c.queue ?? [];
        c.queue = null;
        c.connectErrors = [];
        for (const b of q) socket.write(b);
      });
    }
    if (conn.queue) {
      conn.queue.push(data);
      if (onError) conn.connectErrors.push(onError);
    }
    else if (!conn.socket.destroyed) conn.socket.write(data);
    return {
      local: { address: conn.socket.localAddress ?? this.host, port: conn.socket.localPort ?? this.boundPort },
      bytes: data.length,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.conns.values()) c.socket.destroy();
    this.conns.clear();
    this.byRemote.clear();
    this.server.close();
  }
}

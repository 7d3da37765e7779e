// The drachtio control port: accepts drachtio-srf connections on loopback, authenticates
// them and hands their commands to the SIP core.
import { timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { Logger } from '../../util/logger.ts';
import { ControlConnection, type ControlMessage } from './control-connection.ts';
import { LocalSocket } from './local-socket.ts';
import { RouteRegistry } from './route-registry.ts';

export const SERVER_VERSION = 'v0.9.2-parley';
/** Control connections that may wait to authenticate at once (makeRoom). */
export const MAX_UNAUTHENTICATED = 32;

export interface ControlCommands {
  /** `sip|…` and `proxy|…` commands of an authenticated client. */
  command(conn: ControlConnection, msg: ControlMessage): void;
  /** The hostports string of the authenticate reply: `tcp/127.0.0.1:5060,udp/…`. */
  hostports(): string;
  connectionClosed(conn: ControlConnection): void;
}

export class ControlServer {
  readonly routes = new RouteRegistry();
  private readonly conns = new Map<string, ControlConnection>();
  private closed = false;
  private boundPort = 0;
  private lastLimitLogMs = -Infinity;

  private constructor(
    private readonly server: net.Server,
    private readonly host: string,
    private readonly secret: string,
    private readonly log: Logger,
    private readonly core: ControlCommands,
  ) {}

  static async listen(host: string, port: number, secret: string, log: Logger, core: ControlCommands): Promise<ControlServer> {
    const server = net.createServer();
    const cs = new ControlServer(server, host, secret, log, core);
    server.on('connection', (s) => cs.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Logged from here on: a failed listen is the start-up error, which names the key.
    server.on('error', (err) => log.error({ err }, 'control server error'));
    cs.boundPort = (server.address() as net.AddressInfo).port;
    return cs;
  }

  get port(): number {
    return this.boundPort;
  }

  get connections(): ControlConnection[] {
    return [...this.conns.values()];
  }

  connection(id: string): ControlConnection | undefined {
    return this.conns.get(id);
  }

  /**
   * A control connection from an app in this process, without a kernel socket: returns the
   * app's end (a net.Socket, see local-socket.ts); the server's end is accepted as a TCP one is.
   */
  connectLocal(): net.Socket {
    const [client, server] = LocalSocket.pair({ address: this.host, port: this.boundPort }, { address: this.host, port: 0 });
    this.accept(server);
    return client;
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (!(socket instanceof LocalSocket)) this.makeRoom();
    const conn = new ControlConnection(socket, this.log, (c, m) => this.handle(c, m), (c) => {
      this.conns.delete(c.id);
      this.routes.removeConnection(c);
      this.core.connectionClosed(c);
    });
    this.conns.set(conn.id, conn);
  }

  /**
   * Each connection waiting to authenticate holds a descriptor for up to AUTH_DEADLINE_MS:
   * past MAX_UNAUTHENTICATED of them the oldest is closed to make room (a flood cannot
   * exhaust descriptors, and an app that connects and authenticates at once still gets in).
   */
  private makeRoom(): void {
    let waiting = 0;
    let oldest: ControlConnection | undefined;
    for (const c of this.conns.values()) {
      if (c.authenticated || c.isLocal) continue;
      waiting++;
      oldest ??= c;
    }
    if (waiting < MAX_UNAUTHENTICATED || !oldest) return;
    const now = performance.now();
    if (now - this.lastLimitLogMs >= 5000) {
      this.lastLimitLogMs = now;
      this.log.warn({ limit: MAX_UNAUTHENTICATED, closed: oldest.id }, 'control port: too many connections waiting to authenticate, closed the oldest');
    }
    oldest.destroy();
  }

  private checkSecret(given: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(this.secret);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private handle(conn: ControlConnection, msg: ControlMessage): void {
    const cmd = msg.tokens[1];
    if (!conn.authenticated) {
      if (cmd === 'authenticate' && this.checkSecret(msg.tokens[2] ?? '')) {
        conn.authenticate();
        const hp = this.core.hostports();
        conn.reply(msg.rid, `OK|${hp}|${SERVER_VERSION}|${hp}`);
        this.log.info({ conn: conn.id }, 'control client authenticated');
      } else {
        conn.reply(msg.rid, cmd === 'authenticate' ? 'NO|incorrect secret' : 'NO|authenticate first');
        this.log.warn({ conn: conn.id, cmd }, 'control client rejected');
        conn.close();
      }
      return;
    }
    switch (cmd) {
      case 'route':
        this.routes.add(msg.tokens[2] ?? '', conn);
        conn.reply(msg.rid, 'OK');
        return;
      case 'remove_route':
        this.routes.remove(msg.tokens[2] ?? '', conn);
        conn.reply(msg.rid, 'OK');
        return;
      case 'ping':
        conn.reply(msg.rid, 'OK|pong');
        return;
      case 'sip':
      case 'proxy':
        this.core.command(conn, msg);
        return;
      default:
        conn.reply(msg.rid, `NOK|unknown command ${String(cmd).slice(0, 32)}`);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.conns.values()]) c.destroy();
    this.server.close();
  }
}

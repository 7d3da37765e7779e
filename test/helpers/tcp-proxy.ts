// A TCP proxy for tests: listens on a free loopback port and forwards each
// connection to a target, until it is cut: then every open connection is
// destroyed and new ones are closed at once (a network cut between one client
// and its server, the server still up for everyone else). restore() lets
// connections through again.
import net from 'node:net';
import { freePort } from './free-port.ts';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private cutOff = false;

  private constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
    const port = await freePort();
    let self: TcpProxy | null = null;
    const server = net.createServer((client) => {
      if (!self || self.cutOff) {
        client.destroy();
        return;
      }
      const upstream = net.connect(targetPort, targetHost);
      const track = (s: net.Socket): void => {
        self!.sockets.add(s);
        s.once('close', () => self?.sockets.delete(s));
        s.on('error', () => undefined);
      };
      track(client);
      track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    await new Promise<void>((r) => server.listen(port, host, r));
    self = new TcpProxy(server, host, port);
    return self;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  /** Every connection through the proxy is dropped, and new ones are refused, until restore(). */
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.cutOff = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}

// One UDP listener. Datagrams go up as Inbound; oversized ones are flagged so the core answers 513 (§18.1.1).
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../../util/logger.ts';
import type { Inbound, SentInfo } from './transport-types.ts';
import { UdpReachability } from './udp-reachability.ts';

export class UdpTransport {
  private readonly socket: dgram.Socket;
  private closed = false;
  readonly host: string;
  private boundPort = 0;
  private readonly reachability: UdpReachability;

  private constructor(host: string, socket: dgram.Socket, private readonly log: Logger) {
    this.host = host;
    this.socket = socket;
    this.reachability = new UdpReachability(log);
  }

  static async listen(host: string, port: number, maxSize: number, log: Logger, onData: (i: Inbound) => void): Promise<UdpTransport> {
    const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    const t = new UdpTransport(host, socket, log);
    socket.on('message', (data, rinfo) => {
      const oversized = data.length > maxSize;
      if (oversized) log.warn({ from: rinfo.address, bytes: data.length }, 'udp datagram over maxMessageSize');
      onData({
        oversized,
        data,
        source: { transport: 'udp', address: rinfo.address, port: rinfo.port },
        local: { address: host, port: t.boundPort },
        connectionId: null,
      });
    });
    socket.on('error', (err) => log.error({ err }, 'udp socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    t.boundPort = socket.address().port;
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
      socket.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      // the kernel may cap buffer sizes; the defaults still work
    }
    return t;
  }

  get port(): number {
    return this.boundPort;
  }

  /** `onError` (the first send of a client transaction) hears of an ICMP port unreachable (§18.4). */
  send(address: string, port: number, data: Buffer, onError?: (err: Error) => void): SentInfo {
    if (this.closed) return { local: { address: this.host, port: this.boundPort }, bytes: data.length };
    try {
      this.socket.send(data, port, address);
    } catch (err) {
      // dgram throws at once for a port or address it will not send to (port 0 in a URI the
      // caller chose): a transport error for this transaction (§18.4), never an uncaught throw.
      this.log.info({ to: `${address}:${port}`, err }, 'udp send refused');
      if (onError) queueMicrotask(() => onError(err as Error));
      return { local: { address: this.host, port: this.boundPort }, bytes: data.length };
    }
    if (onError) this.reachability.watch(address, port, onError);
    return { local: { address: this.host, port: this.boundPort }, bytes: data.length };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reachability.close();
    this.socket.close();
  }
}

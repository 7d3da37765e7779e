// All listeners of the server. Picks the listener for an outgoing message by transport
// and address family, and tells the layers above which host:port to write into Via/Contact.
import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ListenConfig } from '../../config/schema.ts';
import { listenError } from '../../util/listen-error.ts';
import { localAddresses } from '../../util/local-addresses.ts';
import type { Logger } from '../../util/logger.ts';
import { TcpTransport, type StreamLimits } from './tcp-transport.ts';
import { SourceBudget } from './source-budget.ts';
import { loadTlsMaterial } from './tls-material.ts';
import type { Endpoint, Inbound, SentInfo, TransportName } from './transport-types.ts';
import { UdpTransport } from './udp-transport.ts';

export interface ListeningPoint {
  transport: TransportName;
  host: string;
  port: number;
}

export interface Sender {
  /** `onError` hears of a failure found later (a TCP or TLS connect refused, reset or failed, an ICMP port unreachable). */
  send(dest: Endpoint, data: Buffer, connectionId: string | null, onError?: (err: Error) => void): SentInfo;
  /** The address and port a message sent to `dest` goes out from (for Via and Contact). */
  localFor(transport: TransportName, destAddress: string): ListeningPoint;
}

export class TransportLayer implements Sender {
  private readonly udp: UdpTransport[] = [];
  private readonly tcp: TcpTransport[] = [];
  private readonly tls: TcpTransport[] = [];
  /** Each TLS listener's config and key (`sip.listen.N`), for renewTls. */
  private readonly tlsListen: Array<{ l: ListenConfig; key: string; t: TcpTransport }> = [];
  private closed = false;

  private constructor(
    private readonly externalIp: string | null,
    readonly budget: SourceBudget,
  ) {}

  static async start(listen: ListenConfig[], limits: StreamLimits, externalIp: string | null, log: Logger, onData: (i: Inbound) => void): Promise<TransportLayer> {
    const layer = new TransportLayer(externalIp, limits.budget);
    try {
      for (const [i, l] of listen.entries()) {
        const key = `sip.listen.${i}`;
        const tls = l.transport === 'tls' ? await loadTlsMaterial(l, key) : null;
        try {
          if (l.transport === 'udp') layer.udp.push(await UdpTransport.listen(l.host, l.port, limits.maxSize, limits.budget, log, onData));
          else if (l.transport === 'tcp') layer.tcp.push(await TcpTransport.listen(l.host, l.port, limits, log, onData));
          else {
            const t = await TcpTransport.listen(l.host, l.port, limits, log, onData, tls!);
            layer.tls.push(t);
            layer.tlsListen.push({ l, key, t });
          }
        } catch (err) {
          // A host that is no address of this machine, or a port in use: the start-up error names the key.
          throw listenError(key, l, err);
        }
      }
    } catch (err) {
      layer.close();
      throw err;
    }
    return layer;
  }

  get listeningPoints(): ListeningPoint[] {
    return [
      ...this.tcp.map((t) => ({ transport: 'tcp' as const, host: t.host, port: t.port })),
      ...this.udp.map((t) => ({ transport: 'udp' as const, host: t.host, port: t.port })),
      ...this.tls.map((t) => ({ transport: 'tls' as const, host: t.host, port: t.port })),
    ];
  }

  /**
   * True when a request sent to `address:port` over `transport` would reach one of these
   * listeners: one bound to that address, a wildcard one (0.0.0.0, ::) when the address is one
   * of this machine's (any interface, loopback included), or sip.externalIp (the address the
   * listeners' Contacts name, forwarded here by a NAT) with a listener's port.
   */
  isOwn(transport: TransportName, address: string, port: number): boolean {
    const list: Array<UdpTransport | TcpTransport> = transport === 'udp' ? this.udp : transport === 'tcp' ? this.tcp : this.tls;
    const a = address.toLowerCase();
    return list.some((t) => t.port === port && (t.host.toLowerCase() === a || a === this.externalIp || ((t.host === '0.0.0.0' || t.host === '::') && localAddress(a))));
  }

  private pick<T extends { host: string }>(list: T[], destAddress: string): T | undefined {
    if (list.length === 1) return list[0]; // the only listener of that transport: no family to choose
    const v6 = isIPv6(destAddress);
    return list.find((t) => isIPv6(t.host) === v6 || t.host === '0.0.0.0' || t.host === '::') ?? list[0];
  }

  /** A UDP listener may have datagrams waiting unread (see UdpTransport.inputPending). */
  get inputPending(): boolean {
    for (const u of this.udp) if (u.inputPending) return true;
    return false;
  }

  localFor(transport: TransportName, destAddress: string): ListeningPoint {
    const list: Array<UdpTransport | TcpTransport> = transport === 'udp' ? this.udp : transport === 'tcp' ? this.tcp : this.tls;
    const t = this.pick(list, destAddress) ?? this.pick<UdpTransport | TcpTransport>([...this.udp, ...this.tcp, ...this.tls], destAddress);
    if (!t) throw new Error('no SIP listener');
    return { transport, host: this.externalIp ?? advertisable(t.host), port: t.port };
  }

  send(dest: Endpoint, data: Buffer, connectionId: string | null, onError?: (err: Error) => void): SentInfo {
    if (this.closed) return { local: { address: '', port: 0 }, bytes: 0 };
    if (dest.transport !== 'udp') {
      const t = this.pick(dest.transport === 'tls' ? this.tls : this.tcp, dest.address);
      // §18.4: no way to reach it is a transport error (the transaction answers itself 503).
      if (!t) throw new Error(`no ${dest.transport.toUpperCase()} listener`);
      return t.send(dest, data, connectionId, onError);
    }
    const u = this.pick(this.udp, dest.address);
    if (!u) throw new Error('no UDP listener');
    return u.send(dest.address, dest.port, data, onError);
  }

  /**
   * Reads each TLS listener's PEM files again (the same paths: a renewed certificate put in
   * place) and uses them for new connections. A file that cannot be read or used leaves that
   * listener as it was; each outcome names its listener's key.
   */
  async renewTls(): Promise<Array<{ key: string; ok: boolean; error?: string }>> {
    const out: Array<{ key: string; ok: boolean; error?: string }> = [];
    for (const { l, key, t } of this.tlsListen) {
      try {
        t.renewTls(await loadTlsMaterial(l, key));
        out.push({ key, ok: true });
      } catch (err) {
        out.push({ key, ok: false, error: (err as Error).message });
      }
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.udp) t.close();
    for (const t of this.tcp) t.close();
    for (const t of this.tls) t.close();
    this.budget.close();
  }
}

/** A wildcard bind address cannot go into Via or Contact: use the first real interface address instead. */
function advertisable(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  const family = host === '::' ? 'IPv6' : 'IPv4';
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === family && !a.internal) return a.address;
  }
  return family === 'IPv6' ? '::1' : '127.0.0.1';
}

/** An address of this machine (every 127/8 address reaches a wildcard listener on Linux). */
function localAddress(address: string): boolean {
  return address.startsWith('127.') || localAddresses().has(address);
}

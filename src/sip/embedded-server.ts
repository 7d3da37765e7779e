// Parley's embedded SIP server: SIP on UDP/TCP listeners and drachtio's control protocol on
// a loopback port, so an unmodified drachtio-srf app can drive it (see ../../shared notes).
import type net from 'node:net';
import type { SipConfig } from '../config/schema.ts';
import { listenError } from '../util/listen-error.ts';
import { componentLogger, type Logger } from '../util/logger.ts';
import { ControlServer } from './control/control-server.ts';
import { SipCore } from './core/sip-core.ts';
import type { SipResolver } from './core/sip-resolver.ts';
import { ProxyCore } from './core/proxy-core.ts';
import { SourceBudget, type SourceBudgetCounts } from './transport/source-budget.ts';
import { TransportLayer, type ListeningPoint } from './transport/transport-layer.ts';
import type { TransportName } from './transport/transport-types.ts';

export interface EmbeddedSipServerOptions {
  sip: SipConfig;
  log: Logger;
}

export class EmbeddedSipServer {
  private closed = false;

  private constructor(
    private readonly transports: TransportLayer,
    private readonly control: ControlServer,
    private readonly core: SipCore,
    private readonly log: Logger,
  ) {}

  /** Binds every SIP listener and the control port; ports of 0 take a free port. */
  static async start(opts: EmbeddedSipServerOptions): Promise<EmbeddedSipServer> {
    const log = componentLogger(opts.log, 'sip');
    const cfg = opts.sip;
    let core: SipCore | null = null;
    // A message owed on a stream gets as long as a transaction waits for one (64*T1, timer B/F).
    const budget = new SourceBudget({ bytesPerSecond: cfg.sourceBytesPerSecond, burstBytes: cfg.sourceBurstBytes, cpuMsPerSecond: cfg.sourceCpuMsPerSecond, maxPausedMs: cfg.sourceMaxPausedMs });
    const limits = { maxSize: cfg.maxMessageSize, maxConnections: cfg.maxConnections, messageDeadlineMs: 64 * cfg.timers.t1, budget };
    const transports = await TransportLayer.start(cfg.listen, limits, cfg.externalIp, log, (i) => core?.onInbound(i));
    // Retransmission timers wait while a UDP socket may hold unread datagrams (transaction-base.ts).
    const timers = { ...cfg.timers, inputPending: () => transports.inputPending };
    core = new SipCore({ log, timers, sender: transports, listeningPoints: () => transports.listeningPoints, maxTransactionsPerSource: cfg.maxTransactionsPerSource, natContact: cfg.natContact, dns: { srv: cfg.dns.srv, servers: cfg.dns.servers, timeoutMs: cfg.dns.timeoutMs, cacheMs: cfg.dns.cacheSec * 1000, failoverAfterMs: cfg.dns.failoverAfterMs } });
    core.attachProxy(new ProxyCore(core.ctx));
    let control: ControlServer;
    try {
      control = await ControlServer.listen(cfg.control.host, cfg.control.port, cfg.control.secret, log, core);
    } catch (err) {
      transports.close();
      core.close();
      throw listenError('sip.control', { transport: 'tcp', host: cfg.control.host, port: cfg.control.port }, err);
    }
    core.attachControl(control);
    const server = new EmbeddedSipServer(transports, control, core, log);
    log.info({ listen: transports.listeningPoints, control: control.port }, 'embedded SIP server started');
    return server;
  }

  get listeningPoints(): ListeningPoint[] {
    return this.transports.listeningPoints;
  }

  /** The SIP port of the first listener of that transport (or of any listener). */
  sipPort(transport?: TransportName): number {
    const lps = this.transports.listeningPoints;
    return (lps.find((l) => !transport || l.transport === transport) ?? lps[0]).port;
  }

  get udpPort(): number | null {
    return this.transports.listeningPoints.find((l) => l.transport === 'udp')?.port ?? null;
  }

  get tcpPort(): number | null {
    return this.transports.listeningPoints.find((l) => l.transport === 'tcp')?.port ?? null;
  }

  get controlPort(): number {
    return this.control.port;
  }

  /**
   * A control connection for a drachtio-srf app in this process: the app's end, a net.Socket
   * with no kernel socket behind it (`ControlServer.connectLocal`). The app then authenticates
   * on it as it would over TCP.
   */
  connectLocal(): net.Socket {
    return this.control.connectLocal();
  }

  /** The verbs (methods, `cdr:*`) that connected apps have routed. */
  get routedVerbs(): string[] {
    return this.control.routes.verbs();
  }

  /** Counts for tests and health checks. */
  get stats(): { dialogs: number; serverTransactions: number; clientTransactions: number; pendingApp: number; refusedOverSourceLimit: number; overBudget: SourceBudgetCounts; dns: SipResolver['counts'] } {
    return {
      dns: { ...this.core.ctx.resolver.counts },
      overBudget: { ...this.transports.budget.counts },
      refusedOverSourceLimit: this.core.refusedOverSourceLimit,
      dialogs: this.core.ctx.dialogs.size,
      serverTransactions: this.core.ctx.txns.serverCount,
      clientTransactions: this.core.ctx.txns.clientCount,
      pendingApp: this.core.ctx.pendingUas.size + this.core.ctx.pendingUac.size,
    };
  }

  /**
   * True when a request to `uri` would come back to this server: the URI resolved as the server
   * resolves it (RFC 3263: an address, a name's A/AAAA, a domain's NAPTR/SRV) names one of its
   * listeners (transport-layer.ts isOwn). A URI that does not resolve is not this server's.
   */
  async pointsHere(uri: string): Promise<boolean> {
    try {
      const dests = await this.core.ctx.resolver.destinations(uri);
      return dests.some((d) => this.transports.isOwn(d.transport, d.address, d.port));
    } catch {
      return false;
    }
  }

  /** Each TLS listener's certificate, key and CAs read again for new connections (transport-layer.ts); each outcome logged. */
  async renewTls(): Promise<Array<{ key: string; ok: boolean; error?: string }>> {
    const out = await this.transports.renewTls();
    for (const r of out) {
      if (r.ok) this.log.info({ listener: r.key }, 'TLS certificate and key read again: new connections use them');
      else this.log.error({ listener: r.key, error: r.error }, 'TLS certificate not renewed: the listener keeps the one it had');
    }
    return out;
  }

  /** Synchronous and idempotent: control clients, then the core's timers, then the sockets. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.control.close();
    this.core.close();
    this.transports.close();
    this.log.info('embedded SIP server closed');
  }
}

// One UDP listener. Datagrams go up as Inbound; oversized ones are flagged so the core answers 513 (§18.1.1).
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import type { Logger } from '../../util/logger.ts';
import { chargeOf, type SourceBudget } from './source-budget.ts';
import type { Inbound, SentInfo } from './transport-types.ts';
import { UdpReachability } from './udp-reachability.ts';

/**
 * libuv reads at most this many datagrams (33, in fact) from a UDP socket per poll of the event
 * loop, and leaves the rest for the next turn: a poll that read this many may have left some.
 */
const UV_READS_PER_POLL = 32;
/** At most one 'over budget' log line per this interval. */
const DROP_LOG_EVERY_MS = 5000;

/**
 * dgram's address lookup: an IP address (what the core sends to) answers at once, so send()
 * goes out within the call; dns.lookup answers even an IP address in a later tick, one
 * closure and one tick per datagram. Names still go to dns.lookup.
 */
function literalLookup(address: string, family: number | dns.LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const literal = isIP(address);
  if (literal) {
    callback(null, address, literal);
    return;
  }
  dns.lookup(address, family as dns.LookupOneOptions, callback);
}

export class UdpTransport {
  private readonly socket: dgram.Socket;
  /** Datagrams read in this turn's poll phase so far (counting: a check-phase callback ends the count). */
  private readsThisTurn = 0;
  private counting = false;
  private readonly endCount = (): void => {
    this.counting = false;
  };
  private closed = false;
  private lastDropLogMs = -Infinity;
  readonly host: string;
  private boundPort = 0;
  private readonly reachability: UdpReachability;

  private constructor(host: string, socket: dgram.Socket, private readonly log: Logger) {
    this.host = host;
    this.socket = socket;
    this.reachability = new UdpReachability(log);
  }

  static async listen(host: string, port: number, maxSize: number, budget: SourceBudget, log: Logger, onData: (i: Inbound) => void): Promise<UdpTransport> {
    const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false, lookup: literalLookup });
    const t = new UdpTransport(host, socket, log);
    socket.on('message', (data, rinfo) => {
      t.countRead();
      // A source over its budget (sip.sourceBytesPerSecond, sip.sourceCpuMsPerSecond): dropped
      // before parsing, as a congested link would (UDP senders retransmit, §17.1.1.2).
      if (budget.enabled && budget.waitMs(rinfo.address) > 0) {
        budget.counts.udpDropped++;
        t.logDrop(rinfo.address);
        return;
      }
      const t0 = budget.enabled ? performance.now() : 0;
      const oversized = data.length > maxSize;
      if (oversized) log.warn({ from: rinfo.address, bytes: data.length }, 'udp datagram over maxMessageSize');
      onData({
        oversized,
        data,
        source: { transport: 'udp', address: rinfo.address, port: rinfo.port },
        local: { address: host, port: t.boundPort },
        connectionId: null,
      });
      if (budget.enabled) budget.charge(rinfo.address, budget.cfg.bytesPerSecond > 0 ? chargeOf(data) : 0, performance.now() - t0);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Logged from here on: a failed bind is the start-up error, which names the key.
    socket.on('error', (err) => log.error({ err }, 'udp socket error'));
    t.boundPort = socket.address().port;
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
      socket.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      // the kernel may cap buffer sizes; the defaults still work
    }
    return t;
  }

  /** At most one log line per DROP_LOG_EVERY_MS: a flood must not become a flood of log lines. */
  private logDrop(from: string): void {
    const now = performance.now();
    if (now - this.lastDropLogMs < DROP_LOG_EVERY_MS) return;
    this.lastDropLogMs = now;
    this.log.warn({ from }, 'udp datagrams from a source over its budget dropped (sip.sourceBytesPerSecond, sip.sourceCpuMsPerSecond)');
  }

  private countRead(): void {
    if (!this.counting) {
      this.counting = true;
      this.readsThisTurn = 0;
      setImmediate(this.endCount);
    }
    this.readsThisTurn++;
  }

  /**
   * Whether datagrams may still wait unread in the socket: this turn's poll phase read as many
   * as libuv reads per poll. Meaningful in the check phase (setImmediate callbacks queued before
   * that poll run ahead of the one that ends the count).
   */
  get inputPending(): boolean {
    return this.counting && this.readsThisTurn >= UV_READS_PER_POLL;
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

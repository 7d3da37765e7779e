// One TCP or TLS listener plus the connections it accepted or opened. Connections are reused
// for every message to the same remote address and port (RFC 3261 §18, RFC 5923 in spirit:
// a response goes back on the connection its request came on), and kept alive.
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../util/logger.ts';
import { chargeOf, type SourceBudget } from './source-budget.ts';
import { StreamFramer } from './stream-framer.ts';
import { RecentListeners, type TransportErrorListener } from './recent-listeners.ts';
import type { TlsMaterial } from './tls-material.ts';
import type { Endpoint, Inbound, SentInfo } from './transport-types.ts';

interface Conn {
  id: string;
  socket: net.Socket;
  framer: StreamFramer;
  /** Messages waiting for an outbound connect (and TLS handshake) to finish. */
  queue: Buffer[] | null;
  /** Transactions that sent on this connection lately: a refused, reset or failed connection ends them. */
  listeners: RecentListeners;
  /** Set once we ended the connection after a framing error: destroys it if the peer never closes. */
  linger: NodeJS.Timeout | null;
  /** Accepted from a peer (not opened by us): counted against StreamLimits.maxConnections. */
  inbound: boolean;
  /** The peer has sent at least one whole message. */
  framed: boolean;
  /** Runs while an inbound connection owes us a whole message (its first, or one it has begun). */
  deadline: NodeJS.Timeout | null;
  /** Resumes reading once the source's budget has refilled (the connection is paused meanwhile). */
  resume: NodeJS.Timeout | null;
  /** When the source went over budget on this connection and has not been within it after a read since. */
  throttledSince: number | null;
}

/** What a stream listener accepts from its peers. */
export interface StreamLimits {
  /** sip.maxMessageSize. */
  maxSize: number;
  /** Connections accepted at once per listener (sip.maxConnections); those we open are not counted. */
  maxConnections: number;
  /** How long an accepted connection may take to deliver its first message, or the rest of one it began. */
  messageDeadlineMs: number;
  /** Per-source budget (sip.sourceBytesPerSecond, sip.sourceCpuMsPerSecond, sip.sourceMaxPausedMs). */
  budget: SourceBudget;
}

const IDLE_MS = 10 * 60 * 1000;
/** A transaction waits at most timer B/F (64*T1, 32 s at the default T1) for its final response. */
const LISTENER_MS = 40 * 1000;
/** How long a connection we ended after a framing error may stay half open. */
const UNFRAMED_LINGER_MS = 2000;
/** At most one 'connection limit' log line per this interval. */
const LIMIT_LOG_EVERY_MS = 5000;

export class TcpTransport {
  private readonly server: net.Server;
  private readonly conns = new Map<string, Conn>();
  private readonly byRemote = new Map<string, Conn>();
  private seq = 0;
  private inboundCount = 0;
  private lastLimitLogMs = -Infinity;
  private closed = false;
  private boundPort = 0;
  readonly host: string;
  readonly transport: 'tcp' | 'tls';

  private constructor(
    host: string,
    private readonly limits: StreamLimits,
    private readonly log: Logger,
    private readonly onData: (i: Inbound) => void,
    private tlsMaterial: TlsMaterial | null,
  ) {
    this.host = host;
    this.transport = tlsMaterial ? 'tls' : 'tcp';
    if (tlsMaterial) {
      const m = tlsMaterial;
      this.server = tls.createServer(
        {
          cert: m.cert,
          key: m.key,
          ca: m.ca ?? undefined,
          minVersion: 'TLSv1.2',
          // An upstream that must prove who it is (mutual TLS); the handshake fails otherwise.
          requestCert: m.requireClientCert,
          rejectUnauthorized: m.requireClientCert,
          // A handshake holds a descriptor before accept() sees the connection: it gets the
          // message deadline (Node's default is 120 s), and handshakes in progress are capped
          // below (connections, handshaking or not, past twice maxConnections are refused).
          handshakeTimeout: limits.messageDeadlineMs,
        },
        (s) => this.accept(s),
      );
      this.server.maxConnections = 2 * limits.maxConnections;
      // A failed handshake (junk instead of TLS, an untrusted client certificate, an old
      // protocol version) closes that connection only. Node destroys the socket after a
      // protocol error but not after ERR_TLS_HANDSHAKE_TIMEOUT (it only reports it): close it here.
      this.server.on('tlsClientError', (err: Error & { code?: string }, s: tls.TLSSocket) => {
        log.warn({ from: `${s.remoteAddress ?? '?'}:${s.remotePort ?? 0}`, code: err.code, reason: err.message }, 'tls handshake failed, connection closed');
        s.destroy();
      });
    } else {
      this.server = net.createServer((s) => this.accept(s));
    }
    this.server.on('error', (err) => log.error({ err, transport: this.transport }, 'sip stream listener error'));
  }

  /**
   * A TLS listener's renewed certificate, key and CAs (the same files read again): connections
   * accepted or opened from now on use them, those open keep theirs. Whether a client must
   * present a certificate stays as it started.
   */
  renewTls(m: TlsMaterial): void {
    if (!this.tlsMaterial) throw new Error('not a TLS listener');
    (this.server as tls.Server).setSecureContext({ cert: m.cert, key: m.key, ca: m.ca ?? undefined, minVersion: 'TLSv1.2' });
    this.tlsMaterial = { ...m, requireClientCert: this.tlsMaterial.requireClientCert };
  }

  static async listen(host: string, port: number, limits: StreamLimits, log: Logger, onData: (i: Inbound) => void, tlsMaterial: TlsMaterial | null = null): Promise<TcpTransport> {
    const t = new TcpTransport(host, limits, log, onData, tlsMaterial);
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

  /**
   * A peer's new connection. Each holds a file descriptor, which RTP sockets and recordings
   * need too: past maxConnections the oldest connection that never sent a whole message
   * makes room (else the new one is refused), and one that owes a message past the deadline
   * is closed, so idle or slow-dripping connections (slowloris) cannot exhaust them.
   */
  private accept(socket: net.Socket): void {
    if (this.inboundCount >= this.limits.maxConnections) {
      let idle: Conn | undefined;
      for (const c of this.conns.values()) {
        if (c.inbound && !c.framed && !c.socket.destroyed) {
          idle = c;
          break;
        }
      }
      this.logLimit(socket, idle);
      if (!idle) {
        socket.destroy();
        return;
      }
      this.drop(idle);
    }
    const conn = this.adopt(socket, null);
    conn.inbound = true;
    this.inboundCount++;
    this.armDeadline(conn);
  }

  private logLimit(socket: net.Socket, evicted: Conn | undefined): void {
    const now = performance.now();
    if (now - this.lastLimitLogMs < LIMIT_LOG_EVERY_MS) return;
    this.lastLimitLogMs = now;
    const from = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
    this.log.warn({ transport: this.transport, from, maxConnections: this.limits.maxConnections, evicted: evicted?.id ?? null }, evicted ? 'sip.maxConnections reached: closed the oldest connection that sent no message' : 'sip.maxConnections reached: connection refused');
  }

  /** Closes a connection at once, counted and forgotten like any other close. */
  private drop(conn: Conn): void {
    conn.socket.destroy();
    this.forget(conn);
  }

  private armDeadline(conn: Conn): void {
    if (conn.deadline) return;
    conn.deadline = setTimeout(() => {
      conn.deadline = null;
      this.log.warn({ conn: conn.id, deadlineMs: this.limits.messageDeadlineMs, framed: conn.framed }, `${this.transport} connection owed a whole message past its deadline, closed`);
      this.drop(conn);
    }, this.limits.messageDeadlineMs);
    conn.deadline.unref();
  }

  /** After a read: the deadline runs while a message is begun, or until the first one is whole. */
  private updateDeadline(conn: Conn): void {
    if (conn.framer.buffered > 0 || !conn.framed) this.armDeadline(conn);
    else if (conn.deadline) {
      clearTimeout(conn.deadline);
      conn.deadline = null;
    }
  }

  private forget(conn: Conn): void {
    if (!this.conns.delete(conn.id)) return;
    if (conn.inbound) this.inboundCount--;
    conn.listeners.clear();
    if (conn.linger) clearTimeout(conn.linger);
    conn.linger = null;
    if (conn.deadline) clearTimeout(conn.deadline);
    conn.deadline = null;
    if (conn.resume) clearTimeout(conn.resume);
    conn.resume = null;
  }

  /**
   * After a read: a source over its budget stops being read on this connection until the
   * buckets refill (TCP back-pressure: nothing is dropped, the peer's writes wait; answers
   * still go out). One that stays over budget after every read for longer than
   * sip.sourceMaxPausedMs is closed when that time is up.
   */
  private throttle(conn: Conn, address: string): void {
    const budget = this.limits.budget;
    const wait = budget.waitMs(address);
    if (wait <= 0) {
      conn.throttledSince = null;
      return;
    }
    const now = performance.now();
    conn.throttledSince ??= now;
    const left = Math.max(0, budget.cfg.maxPausedMs - (now - conn.throttledSince));
    budget.counts.streamPauses++;
    conn.socket.pause();
    if (conn.resume) clearTimeout(conn.resume);
    // The peer is not the one keeping a message unfinished now.
    if (conn.deadline) clearTimeout(conn.deadline);
    conn.deadline = null;
    if (wait > left) {
      conn.resume = setTimeout(() => {
        conn.resume = null;
        budget.counts.streamClosed++;
        this.log.warn({ conn: conn.id, from: address, maxPausedMs: budget.cfg.maxPausedMs }, `${this.transport} connection over its source's budget past sip.sourceMaxPausedMs, closed`);
        this.drop(conn);
      }, Math.ceil(left));
      return;
    }
    conn.resume = setTimeout(() => {
      conn.resume = null;
      if (conn.socket.destroyed) return;
      conn.socket.resume();
      if (conn.inbound) this.updateDeadline(conn);
    }, Math.ceil(wait));
  }

  private adopt(socket: net.Socket, pending: Buffer[] | null, remoteKey?: string): Conn {
    const conn: Conn = {
      id: `${this.transport}-${++this.seq}`,
      socket,
      framer: new StreamFramer(this.limits.maxSize),
      queue: pending,
      listeners: new RecentListeners(LISTENER_MS),
      linger: null,
      inbound: false,
      framed: false,
      deadline: null,
      resume: null,
      throttledSince: null,
    };
    this.conns.set(conn.id, conn);
    const rk = remoteKey ?? this.key(socket.remoteAddress ?? '', socket.remotePort ?? 0);
    this.byRemote.set(rk, conn);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30000);
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    const transport = this.transport;
    const budget = this.limits.budget;
    const source = socket.remoteAddress ?? '';
    socket.on('data', (chunk: Buffer) => {
      let t0 = budget.enabled ? performance.now() : 0;
      for (const f of conn.framer.push(chunk)) {
        if (f.kind === 'ping') socket.write('\r\n');
        else if (f.kind === 'error') {
          this.log.warn({ conn: conn.id, from: rk, reason: f.reason }, `${transport} framing error, closing connection`);
          if (!f.head) {
            socket.destroy();
            return;
          }
          // The core answers 400 on this connection first; end() sends it before the FIN (a
          // destroy could reset it away). A peer that keeps its half open is cut off later.
          this.onData({ ...this.inbound(conn, f.head), unframed: f.reason, oversized: f.oversized });
          socket.removeAllListeners('data');
          if (conn.deadline) clearTimeout(conn.deadline);
          conn.deadline = null;
          socket.end();
          conn.linger = setTimeout(() => socket.destroy(), UNFRAMED_LINGER_MS);
          return;
        } else {
          conn.framed = true;
          this.onData(this.inbound(conn, f.data));
        }
        if (budget.enabled) {
          // Framing and handling of each message (or keep-alive), charged to its source.
          const t1 = performance.now();
          budget.charge(source, f.kind === 'message' && budget.cfg.bytesPerSecond > 0 ? chargeOf(f.data) : 0, t1 - t0);
          t0 = t1;
        }
      }
      if (conn.inbound) this.updateDeadline(conn);
      if (budget.enabled && !socket.destroyed) this.throttle(conn, source);
    });
    socket.on('error', (err: Error & { code?: string }) => {
      // §18.4: a refused, reset or failed (TLS) connection is a transport error for every
      // transaction that used it; those already answered ignore it.
      const level = conn.queue || conn.listeners.size ? 'info' : 'debug';
      this.log[level]({ conn: conn.id, to: rk, code: err.code, reason: err.message }, `${transport} connection failed`);
      conn.listeners.fail(err);
    });
    socket.on('close', () => {
      this.forget(conn);
      if (this.byRemote.get(rk) === conn) this.byRemote.delete(rk);
    });
    return conn;
  }

  private inbound(conn: Conn, data: Buffer): Inbound {
    const socket = conn.socket;
    return {
      data,
      source: { transport: this.transport, address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      local: { address: socket.localAddress ?? this.host, port: socket.localPort ?? this.boundPort },
      connectionId: conn.id,
    };
  }

  private connect(dest: Endpoint): Conn {
    const m = this.tlsMaterial;
    const socket = m
      ? tls.connect({
          host: dest.address,
          port: dest.port,
          // tls.connect hands its options to net.Socket#connect, which binds localAddress; its typings omit it.
          ...({ localAddress: this.host } as tls.ConnectionOptions),
          // RFC 5922 §7.2: the certificate must name the URI's host; an IP address is checked
          // against the certificate's IP SANs (SNI carries names only, RFC 6066 §3).
          servername: dest.hostName,
          ca: m.ca ?? undefined,
          cert: m.cert,
          key: m.key,
          minVersion: 'TLSv1.2',
        })
      : net.connect({ host: dest.address, port: dest.port, localAddress: this.host });
    const conn = this.adopt(socket, [], this.key(dest.address, dest.port));
    socket.once(m ? 'secureConnect' : 'connect', () => {
      const q = conn.queue ?? [];
      conn.queue = null;
      for (const b of q) socket.write(b);
    });
    return conn;
  }

  /**
   * Sends on the given connection if it can still be written, else on a connection to the
   * destination (opened if needed). A connection the peer half-closed is ended on our side by
   * Node at once (allowHalfOpen off) and destroyed on that turn, but forgotten only at its
   * 'close', a phase later: what was written in between was dropped without a word. It goes now
   * as on a closed connection: a response to the Via's sent-by (§18.2.2), a request on a new
   * connection to its target, whose failure reaches its transaction (§18.4).
   */
  send(dest: Endpoint, data: Buffer, connectionId: string | null, onError?: TransportErrorListener): SentInfo {
    let conn = writable(connectionId ? this.conns.get(connectionId) : undefined);
    conn ??= writable(this.byRemote.get(this.key(dest.address, dest.port)));
    conn ??= this.connect(dest);
    if (onError) conn.listeners.add(onError);
    if (conn.queue) conn.queue.push(data);
    else conn.socket.write(data);
    return {
      local: { address: conn.socket.localAddress ?? this.host, port: conn.socket.localPort ?? this.boundPort },
      bytes: data.length,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.conns.values()]) this.drop(c);
    this.byRemote.clear();
    this.server.close();
  }
}

/** `c` when a write to it can still go out (connecting, or open and not ended by either side). */
function writable(c: Conn | undefined): Conn | undefined {
  return c && !c.socket.destroyed && c.socket.writable ? c : undefined;
}

// Finds out fast that a UDP destination has no one listening (RFC 3261 §18.4, §8.1.3.1).
// The listening socket is not connected, so the kernel keeps the ICMP port-unreachable its
// datagrams cause to itself. A socket connect()ed to the destination does get it: the next
// receive fails with ECONNREFUSED, which Node reports as an 'error' event. So alongside the
// first request of a client transaction (sent from the listener as usual, so Via, rport and
// later requests keep one source port), a CRLF keep-alive (RFC 5626 §3.5.1; SIP stacks ignore
// it, RFC 3261 §7.5) goes to the same destination from a connected socket kept per destination
// for a few seconds. Its ECONNREFUSED fails every transaction that is waiting on that destination.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../../util/logger.ts';
import { RecentListeners, type TransportErrorListener } from './recent-listeners.ts';

/** ICMP comes back within a round trip; a probe socket lives this long after its last use. */
const PROBE_IDLE_MS = 4000;
/** At most one keep-alive per destination this often, so a busy destination is not doubled in packets. */
const PING_EVERY_MS = 200;
/** Past this many open probes (a flood of new destinations) new requests go unprobed. */
const MAX_PROBES = 256;
const PING = Buffer.from('\r\n\r\n');

class Probe {
  readonly socket: dgram.Socket;
  /** Transactions sent to this destination in the last PROBE_IDLE_MS; older ones learnt their fate otherwise. */
  readonly listeners = new RecentListeners(PROBE_IDLE_MS);
  lastPing = 0;
  connected = false;
  timerIdle: NodeJS.Timeout | null = null;

  constructor(
    readonly key: string,
    address: string,
    port: number,
    private readonly owner: UdpReachability,
  ) {
    this.socket = dgram.createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    this.socket.on('error', (err) => this.owner.failed(this, err));
    this.socket.on('message', () => undefined); // replies come to the listener, not here
    this.socket.connect(port, address, () => {
      this.connected = true;
      this.ping();
    });
    this.touch();
  }

  ping(): void {
    if (!this.connected) return; // the connect callback pings
    const now = Date.now();
    if (now - this.lastPing < PING_EVERY_MS) return;
    this.lastPing = now;
    this.socket.send(PING, (err) => {
      if (err) this.owner.failed(this, err);
    });
  }

  touch(): void {
    if (this.timerIdle) clearTimeout(this.timerIdle);
    this.timerIdle = setTimeout(() => this.owner.drop(this), PROBE_IDLE_MS);
  }

  close(): void {
    if (this.timerIdle) clearTimeout(this.timerIdle);
    this.timerIdle = null;
    this.listeners.clear();
    try {
      this.socket.close();
    } catch {
      // already closed by an error
    }
  }
}

export class UdpReachability {
  private readonly probes = new Map<string, Probe>();
  private closed = false;

  constructor(private readonly log: Logger) {}

  /** Watches `address:port` for a while; `onError` hears ECONNREFUSED if nothing listens there. */
  watch(address: string, port: number, onError: TransportErrorListener): void {
    if (this.closed) return;
    const key = `${address}:${port}`;
    let p = this.probes.get(key);
    if (!p) {
      if (this.probes.size >= MAX_PROBES) return;
      p = new Probe(key, address, port, this);
      this.probes.set(key, p);
    } else {
      p.touch();
      p.ping();
    }
    p.listeners.add(onError);
  }

  failed(p: Probe, err: Error & { code?: string }): void {
    if (this.probes.get(p.key) !== p) return;
    const waiting = p.listeners.size;
    this.log.info({ to: p.key, code: err.code, waiting }, 'udp destination unreachable');
    p.listeners.fail(err);
    this.drop(p);
  }

  drop(p: Probe): void {
    if (this.probes.get(p.key) === p) this.probes.delete(p.key);
    p.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.probes.values()) p.close();
    this.probes.clear();
  }
}

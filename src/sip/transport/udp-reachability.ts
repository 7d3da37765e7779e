// Finds out fast that a UDP destination has no one listening (RFC 3261 §18.4, §8.1.3.1).
// The listening socket is not connected, so the kernel keeps the ICMP port-unreachable its
// datagrams cause to itself. A socket connect()ed to the destination does get it: the next
// receive fails with ECONNREFUSED, which Node reports as an 'error' event. So alongside the
// requests of client transactions (sent from the listener as usual, so Via, rport and later
// requests keep one source port), a CRLF keep-alive (RFC 5626 §3.5.1; SIP stacks ignore it,
// RFC 3261 §7.5) goes to the same destination from a connected socket kept per destination
// for a few seconds (UdpProbe). Its ECONNREFUSED fails every transaction waiting on that destination.
import type { Logger } from '../../util/logger.ts';
import type { TransportErrorListener } from './recent-listeners.ts';
import { UdpProbe, type ProbeOwner } from './udp-probe.ts';

/** Past this many open probes (a flood of new destinations) new requests go unprobed. */
const MAX_PROBES = 256;

export class UdpReachability implements ProbeOwner {
  private readonly probes = new Map<string, UdpProbe>();
  private closed = false;

  constructor(private readonly log: Logger) {}

  /** Watches `address:port` for a while; `onError` hears ECONNREFUSED if nothing listens there. */
  watch(address: string, port: number, onError: TransportErrorListener): void {
    if (this.closed) return;
    const key = `${address}:${port}`;
    let p = this.probes.get(key);
    if (p) p.use();
    else {
      if (this.probes.size >= MAX_PROBES) return;
      p = new UdpProbe(key, address, port, this);
      this.probes.set(key, p);
    }
    p.listeners.add(onError);
  }

  failed(p: UdpProbe, err: Error & { code?: string }): void {
    if (this.probes.get(p.key) !== p) return;
    this.log.info({ to: p.key, code: err.code, waiting: p.listeners.size }, 'udp destination unreachable');
    p.listeners.fail(err);
    this.idle(p);
  }

  idle(p: UdpProbe): void {
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

// One destination's reachability probe (see udp-reachability.ts): a UDP socket connect()ed to
// it, which sends a CRLF keep-alive now and then and hears the kernel's ECONNREFUSED when an
// ICMP port unreachable comes back.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { RecentListeners } from './recent-listeners.ts';

/** ICMP comes back within a round trip; a probe lives this long after its last use. */
export const PROBE_IDLE_MS = 4000;
/** At most one keep-alive per destination this often, so a busy destination is not doubled in packets. */
const PING_EVERY_MS = 200;
const PING = Buffer.from('\r\n\r\n');

export interface ProbeOwner {
  failed(p: UdpProbe, err: Error & { code?: string }): void;
  idle(p: UdpProbe): void;
}

export class UdpProbe {
  private readonly socket: dgram.Socket;
  /** Transactions sent to this destination in the last PROBE_IDLE_MS; older ones learnt their fate otherwise. */
  readonly listeners = new RecentListeners(PROBE_IDLE_MS);
  private lastPing = 0;
  private lastUse = Date.now();
  private connected = false;
  private closed = false;
  private timerIdle: NodeJS.Timeout | null = null;

  constructor(
    readonly key: string,
    address: string,
    port: number,
    private readonly owner: ProbeOwner,
  ) {
    this.socket = dgram.createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    this.socket.on('error', (err) => this.owner.failed(this, err));
    this.socket.on('message', () => undefined); // replies go to the listener, not here
    this.armIdle(PROBE_IDLE_MS);
    // A destination the caller chose (a B leg's To) may be one the kernel refuses (the
    // broadcast address: EACCES) or Node rejects (port 0, thrown at once). connect() hands
    // its error to this callback, not to 'error'; sending on the unconnected socket then
    // throws outside any handler and would stop the process.
    try {
      this.socket.connect(port, address, (err?: Error) => {
        if (err) {
          this.owner.failed(this, err);
          return;
        }
        this.connected = true;
        this.ping();
      });
    } catch (err) {
      const e = err as Error;
      queueMicrotask(() => this.owner.failed(this, e));
    }
  }

  /** Another request went to the destination: keep watching, and ping unless one went out lately. */
  use(): void {
    this.lastUse = Date.now();
    this.ping();
  }

  private ping(): void {
    if (!this.connected || this.closed) return; // the connect callback pings
    const now = Date.now();
    if (now - this.lastPing < PING_EVERY_MS) return;
    this.lastPing = now;
    try {
      this.socket.send(PING, (err) => {
        if (err) this.owner.failed(this, err);
      });
    } catch (err) {
      this.owner.failed(this, err as Error);
    }
  }

  /** One timer per probe, re-armed for what is left rather than reset on every use. */
  private armIdle(ms: number): void {
    this.timerIdle = setTimeout(() => {
      this.timerIdle = null;
      const left = PROBE_IDLE_MS - (Date.now() - this.lastUse);
      if (left > 0) this.armIdle(left);
      else this.owner.idle(this);
    }, ms);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timerIdle) clearTimeout(this.timerIdle);
    this.timerIdle = null;
    this.listeners.clear();
    this.socket.close();
  }
}

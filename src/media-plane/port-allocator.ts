// Hands out RTP ports from media.rtpPortRange: even ports for RTP (RFC 3550
// §11), the next odd one for RTCP when it is not multiplexed. Ports in use in
// this process are remembered so a walk never tries them; a port another
// process holds is found at bind time (EADDRINUSE) and skipped.
//
// Dual stack: a leg's sockets are of one family, decided before they are bound
// (its peer's c= line, or the target of an offer): IPv4 on media.rtpIp, IPv6 on
// media.rtpIp6. Both families draw from the one range, so a port names one leg.
import dns from 'node:dns';
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { IpFamily } from './sdp-types.ts';
import { MediaCapacityError } from './media-errors.ts';

export type { IpFamily } from './sdp-types.ts';

/** Where each family's media binds (media.rtpIp, media.rtpIp6; null: no IPv6 media). */
export interface MediaAddresses {
  ip4: string;
  ip6: string | null;
}

export interface BoundPorts {
  rtp: dgram.Socket;
  rtcp: dgram.Socket | null;
  port: number;
}

export class PortAllocator {
  /** Ports held in this process, with the family their sockets are bound in. */
  private readonly inUse = new Map<number, IpFamily>();
  private cursor: number;
  private readonly first: number;
  private readonly last: number;

  constructor(
    range: { min: number; max: number },
    private readonly addresses: MediaAddresses,
  ) {
    this.first = range.min + (range.min % 2);
    this.last = range.max - 1;
    if (this.first > this.last) throw new Error(`media.rtpPortRange ${range.min}-${range.max} holds no RTP/RTCP port pair`);
    // Start somewhere in the range so that restarts do not reuse the last run's ports at once.
    const pairs = Math.floor((this.last - this.first) / 2) + 1;
    this.cursor = this.first + 2 * Math.floor(Math.random() * pairs);
  }

  get used(): number {
    return this.inUse.size;
  }

  /** Whether IPv6 media is configured (media.rtpIp6). */
  get ipv6(): boolean {
    return this.addresses.ip6 !== null;
  }

  /**
   * Binds an RTP socket (and its RTCP neighbour when `withRtcp`) of `family`
   * on a free port pair; `preferred` is tried first (a re-offer that keeps its port).
   */
  async bind(withRtcp: boolean, preferred?: number, family: IpFamily = 4): Promise<BoundPorts> {
    const ip = this.ipOf(family);
    if (preferred !== undefined && !this.inUse.has(preferred)) {
      const got = await this.tryPair(ip, family, preferred, withRtcp);
      if (got) return got;
    }
    const pairs = Math.floor((this.last - this.first) / 2) + 1;
    for (let i = 0; i < pairs; i++) {
      const port = this.cursor;
      this.cursor = port + 2 > this.last ? this.first : port + 2;
      if (this.inUse.has(port)) continue;
      const got = await this.tryPair(ip, family, port, withRtcp);
      if (got) return got;
    }
    throw new MediaCapacityError(`no free RTP port in media.rtpPortRange (${this.first}-${this.last + 1}, ${this.inUse.size} pairs in use here)`);
  }

  /** Binds the RTCP port of a pair whose RTP socket is already held (an answer that refused rtcp-mux). */
  async bindRtcp(port: number): Promise<dgram.Socket | null> {
    const family = this.inUse.get(port) ?? 4;
    return bindOne(this.ipOf(family), family, port + 1);
  }

  release(port: number): void {
    this.inUse.delete(port);
  }

  private ipOf(family: IpFamily): string {
    if (family === 4) return this.addresses.ip4;
    if (this.addresses.ip6 === null) throw new Error('IPv6 media needs media.rtpIp6');
    return this.addresses.ip6;
  }

  private async tryPair(ip: string, family: IpFamily, port: number, withRtcp: boolean): Promise<BoundPorts | null> {
    this.inUse.set(port, family);
    const rtp = await bindOne(ip, family, port);
    if (!rtp) {
      this.inUse.delete(port);
      return null;
    }
    if (!withRtcp) return { rtp, rtcp: null, port };
    const rtcp = await bindOne(ip, family, port + 1);
    if (!rtcp) {
      rtp.close();
      this.inUse.delete(port);
      return null;
    }
    return { rtp, rtcp, port };
  }
}

/**
 * dgram's address lookup for media sockets. Every address they send to is an IP
 * literal (the SDP's c= line is checked to be one, a latched source is one), but
 * dgram's default (dns.lookup) answers even a literal on the next tick, so every
 * send() would cost a nextTick, a closure and dns.lookup's checks: this answers
 * a literal at once and passes anything else to dns.lookup.
 */
const literalLookup = ((address: string, options: number | dns.LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void => {
  const fam = isIP(address);
  if (fam !== 0) callback(null, address, fam);
  else dns.lookup(address, typeof options === 'number' ? { family: options } : options, callback);
}) as unknown as dgram.SocketOptions['lookup'];

function bindOne(ip: string, family: IpFamily, port: number): Promise<dgram.Socket | null> {
  // ipv6Only: a socket on :: must not also take IPv4 (and so a port an IPv4 leg holds).
  const socket =
    family === 6
      ? dgram.createSocket({ type: 'udp6', ipv6Only: true, recvBufferSize: 256 * 1024, lookup: literalLookup })
      : dgram.createSocket({ type: 'udp4', recvBufferSize: 256 * 1024, lookup: literalLookup });
  return new Promise((resolve) => {
    const onError = (): void => {
      socket.close();
      resolve(null);
    };
    socket.once('error', onError);
    socket.bind({ port, address: ip, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

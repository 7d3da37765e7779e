// Hands out RTP ports from media.rtpPortRange: even ports for RTP (RFC 3550
// §11), the next odd one for RTCP when it is not multiplexed. Ports in use in
// this process are remembered so a walk never tries them; a port another
// process holds is found at bind time (EADDRINUSE) and skipped.
import dgram from 'node:dgram';

export interface BoundPorts {
  rtp: dgram.Socket;
  rtcp: dgram.Socket | null;
  port: number;
}

export class PortAllocator {
  private readonly inUse = new Set<number>();
  private cursor: number;
  private readonly first: number;
  private readonly last: number;

  constructor(
    range: { min: number; max: number },
    private readonly ip: string,
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

  /**
   * Binds an RTP socket (and its RTCP neighbour when `withRtcp`) on a free
   * port pair; `preferred` is tried first (a re-offer that keeps its port).
   */
  async bind(withRtcp: boolean, preferred?: number): Promise<BoundPorts> {
    if (preferred !== undefined && !this.inUse.has(preferred)) {
      const got = await this.tryPair(preferred, withRtcp);
      if (got) return got;
    }
    const pairs = Math.floor((this.last - this.first) / 2) + 1;
    for (let i = 0; i < pairs; i++) {
      const port = this.cursor;
      this.cursor = port + 2 > this.last ? this.first : port + 2;
      if (this.inUse.has(port)) continue;
      const got = await this.tryPair(port, withRtcp);
      if (got) return got;
    }
    throw new Error(`no free RTP port in media.rtpPortRange (${this.first}-${this.last + 1}, ${this.inUse.size} pairs in use here)`);
  }

  /** Binds the RTCP port of a pair whose RTP socket is already held (an answer that refused rtcp-mux). */
  async bindRtcp(port: number): Promise<dgram.Socket | null> {
    return bindOne(this.ip, port + 1);
  }

  release(port: number): void {
    this.inUse.delete(port);
  }

  private async tryPair(port: number, withRtcp: boolean): Promise<BoundPorts | null> {
    this.inUse.add(port);
    const rtp = await bindOne(this.ip, port);
    if (!rtp) {
      this.inUse.delete(port);
      return null;
    }
    if (!withRtcp) return { rtp, rtcp: null, port };
    const rtcp = await bindOne(this.ip, port + 1);
    if (!rtcp) {
      rtp.close();
      this.inUse.delete(port);
      return null;
    }
    return { rtp, rtcp, port };
  }
}

function bindOne(ip: string, port: number): Promise<dgram.Socket | null> {
  const socket = dgram.createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 256 * 1024 });
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

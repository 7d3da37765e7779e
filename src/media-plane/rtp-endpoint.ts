// One SIP leg's RTP endpoint: its own UDP socket (and an RTCP socket on the
// next port when RTCP is not multiplexed). The port names the leg, so any
// SSRC the peer sends is accepted (Janus plain-RTP participants, rtpengine,
// FreeSWITCH); no SSRC has to be signalled or discovered. One is the stream at
// a time: a new one takes over after a probation (ssrc-probation.ts).
//
// Symmetric RTP (RFC 4961) with latching: until the peer's first valid packet
// arrives Parley sends to the address in its SDP; then to where that packet
// came from ('latch', 'once'), or only ever to the SDP address ('strict').
// A packet from any other source is dropped, counted and logged, never played.
//
// This file is the endpoint's life (sockets, negotiation, close) and its send
// side (RTP, RTCP reports and BYE); what arrives is RtpReceiver's
// (rtp-receiver.ts: checks, latching, SSRCs, RTCP demux).
//
// The hot path allocates nothing of its own: counters in fields, no closures
// per packet (Node allocates the Buffer and rinfo).
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../util/logger.ts';
import type { NativeUdp } from './native-udp.ts';
import type { BoundPorts, IpFamily, PortAllocator } from './port-allocator.ts';
import { RtpReceiver } from './rtp-receiver.ts';
import type { LatchMode } from './rtp-source-latch.ts';

export type { LatchMode } from './rtp-source-latch.ts';


/** What the endpoint needs of an SRTP library (src/media-plane/srtp/). */
export interface SrtpContext {
  protectRtp(packet: Buffer): Buffer;
  unprotectRtp(packet: Buffer): Buffer | null;
  protectRtcp(packet: Buffer): Buffer;
  unprotectRtcp(packet: Buffer): Buffer | null;
}

/** What the endpoint needs of RTCP (src/media-plane/rtcp/). */
export interface RtcpContext {
  onRtpReceived(ssrc: number, seq: number, rtpTimestamp: number, arrivalMs: number): void;
  onRtpSent(payloadBytes: number, rtpTimestamp: number, nowMs: number): void;
  handleRtcp(packet: Uint8Array, nowMs: number): boolean;
  buildReport(nowMs: number): Buffer;
  buildBye(nowMs: number): Buffer;
  nextIntervalMs(): number;
}

export interface EndpointRemote {
  /** null: the peer put 0.0.0.0 (hold, RFC 3264 §8.4): nothing is sent. */
  ip: string | null;
  port: number;
  rtcpPort: number | null;
  rtcpMux: boolean;
  /** a=rtcp's address when it names one other than `ip` (RFC 3605): RTCP goes there, latching or not. */
  rtcpIp?: string;
}

export interface EndpointMedia {
  remote: EndpointRemote;
  /** Payload types the peer may send us (audio, telephone-event, CN); others are dropped. */
  payloadTypes: readonly number[];
  /** Of them, the audio's: only audio of a new SSRC may become the stream (ssrc-probation.ts). */
  audioPt: number;
  srtp: SrtpContext | null;
  /** Whether we send RTP at all (not while the peer holds or is recvonly from our side). */
  sending: boolean;
}

export interface EndpointStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  rtcpIn: number;
  rtcpOut: number;
  /** Dropped: not RTP, truncated, oversized. */
  malformed: number;
  /** Ignored: another protocol multiplexed on media ports (RFC 7983: STUN, ZRTP, DTLS, TURN channels), such as a phone's ICE checks or ZRTP hello to a leg that negotiated neither. */
  otherProtocol: number;
  /** Dropped: from a source other than the latched or signalled one. */
  wrongSource: number;
  /** Dropped: a payload type that was not negotiated. */
  unexpectedPt: number;
  /** Dropped: SRTP/SRTCP that failed authentication or replay checks. */
  srtpFailures: number;
  /** Dropped: audio of a new SSRC that did not take over the stream, interleaved with it or one of a flood of SSRCs (ssrc-probation.ts; counted while held, taken back when it does take over). */
  ssrcProbation: number;
  /** SSRC changes seen on the peer's stream. */
  ssrcChanges: number;
}

export interface RtpEndpointOptions {
  allocator: PortAllocator;
  /** The socket's family, decided before binding (the peer's c= line, or the target of our offer). */
  family: IpFamily;
  /** Address written into SDP (media.announcedIp or announcedIp6, else the bind address of the family). */
  announcedIp: string;
  latching: LatchMode;
  /** Open the RTCP port too (incoming offers without rtcp-mux, and every offer we make). */
  withRtcp: boolean;
  /** A port to keep (re-offer), when it is free. */
  port?: number;
  log: Logger;
  /** Batched reading and sending of the RTP socket (native-udp.ts); absent or null: dgram's. */
  io?: NativeUdp | null;
  /** A valid RTP packet (decrypted) from the peer: valid during the call only (it may view a shared buffer). */
  onRtp: (packet: Buffer, nowMs: number) => void;
  /**
   * A packet of the peer's stream that is not played, its payload type not negotiated (an RFC 6263 §4.6 keep-alive):
   * it holds a number of the stream's sequence that brings no frame (valid during the call only, as onRtp's).
   */
  onSkip?: (packet: Buffer, nowMs: number) => void;
  /** The peer's stream has a new SSRC (its first packet, or a restart). */
  onSsrc: (ssrc: number) => void;
}

export class RtpEndpoint {
  readonly port: number;
  readonly stats: EndpointStats = {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    rtcpIn: 0,
    rtcpOut: 0,
    malformed: 0,
    otherProtocol: 0,
    wrongSource: 0,
    unexpectedPt: 0,
    srtpFailures: 0,
    ssrcProbation: 0,
    ssrcChanges: 0,
  };

  private readonly rtpSocket: dgram.Socket;
  private rtcpSocket: dgram.Socket | null;
  private media: EndpointMedia | null = null;
  /** Where RTP goes: the SDP address, then the latched source. */
  private sendIp: string | null = null;
  private sendPort = 0;
  private rtcpSendIp: string | null = null;
  private rtcpSendPort = 0;
  /** The peer's a=rtcp named its own address: RTCP goes there (until the peer's RTCP shows where it is), not to the latched host. */
  private rtcpExplicit = false;
  private readonly receiver: RtpReceiver;
  private rtcp: RtcpContext | null = null;
  private rtcpTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** The RTP socket's id in opts.io (null: dgram reads and sends it), and where io sends it. */
  private readonly ioId: number | null = null;
  private ioIp: string | null = null;
  private ioPort = 0;

  private constructor(
    bound: BoundPorts,
    private readonly opts: RtpEndpointOptions,
  ) {
    this.port = bound.port;
    this.receiver = new RtpReceiver(this.stats, opts, this.latched);
    this.rtpSocket = bound.rtp;
    this.rtcpSocket = bound.rtcp;
    this.ioId = opts.io?.attach(this.rtpSocket, this.receiver.onRtpMessage) ?? null;
    if (this.ioId === null) this.rtpSocket.on('message', this.receiver.onRtpMessage);
    this.rtpSocket.on('error', this.onSocketError);
    this.rtcpSocket?.on('message', this.receiver.onRtcpMessage);
    this.rtcpSocket?.on('error', this.onSocketError);
  }

  static async open(opts: RtpEndpointOptions): Promise<RtpEndpoint> {
    const bound = await opts.allocator.bind(opts.withRtcp, opts.port, opts.family);
    return new RtpEndpoint(bound, opts);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** performance.now() of the last valid RTP packet (or of the endpoint's creation). */
  get lastRxMs(): number {
    return this.receiver.lastRxMs;
  }

  /** performance.now() of the peer's last RTCP report that was read (0: none yet). */
  get lastRtcpRxMs(): number {
    return this.receiver.lastRtcpRxMs;
  }

  /** IPv4 or IPv6: the family of the socket, and so of every address it sends to. */
  get family(): IpFamily {
    return this.opts.family;
  }

  /** Our side of the stream as SDP describes it. */
  get local(): { ip: string; port: number; rtcpPort: number | null } {
    return { ip: this.opts.announcedIp, port: this.port, rtcpPort: this.rtcpSocket ? this.port + 1 : null };
  }

  get hasRtcpPort(): boolean {
    return this.rtcpSocket !== null;
  }

  /** The address RTP is sent to now (the latched one once latched), for tests and the API. */
  get destination(): { ip: string; port: number } | null {
    return this.sendIp === null ? null : { ip: this.sendIp, port: this.sendPort };
  }

  /**
   * Applies a negotiation (first offer/answer or a re-offer). The port stays;
   * a new remote address un-latches in 'latch' mode (the peer told us where it is now).
   */
  configure(media: EndpointMedia): void {
    if (this.closed) return;
    const prev = this.media?.remote;
    this.media = media;
    const r = media.remote;
    const moved = !prev || (r.ip !== null && (r.ip !== prev.ip || r.port !== prev.port));
    this.receiver.configure(media, moved);
    const src = this.receiver.source;
    if (src.ip === null) {
      this.sendIp = r.ip;
      this.sendPort = r.port;
    }
    if (r.ip === null) this.sendIp = null;
    else if (this.sendIp === null) {
      // Back from a 0.0.0.0 hold: to the latched source if there is one, else the SDP address.
      this.sendIp = src.ip ?? r.ip;
      this.sendPort = src.ip ? src.port : r.port;
    }
    this.rtcpSendIp = r.ip === null ? null : (r.rtcpIp ?? r.ip);
    this.rtcpExplicit = r.ip !== null && r.rtcpIp !== undefined && !r.rtcpMux;
    this.rtcpSendPort = r.rtcpMux ? r.port : (r.rtcpPort ?? r.port + 1);
    if (r.rtcpMux && this.rtcpSocket) {
      // RFC 5761 §5.1.1: the peer multiplexes; the RTCP port is not needed.
      this.rtcpSocket.close();
      this.rtcpSocket = null;
    }
  }

  /** Whether we should send RTP now (the mixer asks once per tick). */
  get sending(): boolean {
    return !this.closed && this.media !== null && this.media.sending && this.sendIp !== null;
  }

  /** Attaches RTCP (reports every few seconds, the peer's reports read). */
  attachRtcp(rtcp: RtcpContext): void {
    this.rtcp = rtcp;
    this.receiver.rtcp = rtcp;
    this.scheduleReport();
  }

  /** Opens the RTCP socket for a peer that refused rtcp-mux when we had not opened one. */
  async ensureRtcpPort(): Promise<void> {
    if (this.rtcpSocket || this.closed) return;
    const s = await this.opts.allocator.bindRtcp(this.port);
    if (!s) {
      this.opts.log.warn({ port: this.port + 1 }, 'RTCP port taken: RTCP goes over the RTP port');
      return;
    }
    if (this.closed) {
      s.close();
      return;
    }
    this.rtcpSocket = s;
    s.on('message', this.receiver.onRtcpMessage);
    s.on('error', this.onSocketError);
  }

  /**
   * Sends one RTP packet to the peer (SRTP-protected when negotiated). Returns
   * false when the socket is done with `packet` (sent at once, encrypted into
   * another buffer, or not sent), so the caller may write its next packet into
   * it; true when the socket still holds it (queued behind others).
   */
  send(packet: Buffer): boolean {
    const m = this.media;
    if (this.closed || m === null || this.sendIp === null) return false;
    let out = packet;
    if (m.srtp) {
      try {
        out = m.srtp.protectRtp(packet);
      } catch (err) {
        // An index used twice (SrtpIndexReuseError) would reuse keystream: the packet is not sent.
        this.stats.srtpFailures++;
        this.opts.log.debug({ err }, 'SRTP protect refused a packet');
        return false;
      }
    }
    this.stats.packetsOut++;
    this.stats.bytesOut += out.length;
    if (this.rtcp) {
      const ts = ((packet[4] << 24) | (packet[5] << 16) | (packet[6] << 8) | packet[7]) >>> 0;
      this.rtcp.onRtpSent(packet.length - 12, ts, performance.now());
    }
    const io = this.opts.io;
    if (this.ioId !== null && io) {
      if (this.sendIp !== this.ioIp || this.sendPort !== this.ioPort) {
        this.ioIp = this.sendIp;
        this.ioPort = this.sendPort;
        io.setDest(this.ioId, this.sendIp, this.sendPort);
      }
      // Copied into the batch: the caller may reuse `packet` at once.
      io.send(this.ioId, out);
      return false;
    }
    const socket = this.rtpSocket;
    socket.send(out, this.sendPort, this.sendIp);
    // The allocator's sockets resolve an IP literal (and sendIp is one) at once, so
    // send() has handed the packet to the kernel or queued it by now (literalLookup).
    return out === packet && socket.getSendQueueCount() > 0;
  }

  /** Closes the sockets (an RTCP BYE first, RFC 3550 §6.6, if RTCP runs). Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.rtcpTimer) clearTimeout(this.rtcpTimer);
    this.rtcpTimer = null;
    if (this.ioId !== null) this.opts.io?.detach(this.ioId);
    const rtp = this.rtpSocket;
    const rtcp = this.rtcpSocket;
    const closeAll = (): void => {
      rtp.close();
      rtcp?.close();
    };
    // The BYE leaves through the socket's send queue: the sockets close once it is out.
    if (!this.sendRtcp(true, closeAll)) closeAll();
    this.closed = true;
    this.rtcpSocket = null;
    // A new leg may try this port before the sockets are gone: the allocator then skips it (EADDRINUSE).
    this.opts.allocator.release(this.port);
  }

  /** The receiver latched the peer's source: RTP goes there from now on. */
  private readonly latched = (rinfo: dgram.RemoteInfo): void => {
    this.sendIp = rinfo.address;
    this.sendPort = rinfo.port;
  };

  private scheduleReport(): void {
    if (this.closed || !this.rtcp) return;
    this.rtcpTimer = setTimeout(this.sendReport, this.rtcp.nextIntervalMs());
    this.rtcpTimer.unref();
  }

  private readonly sendReport = (): void => {
    this.rtcpTimer = null;
    if (this.closed) return;
    this.sendRtcp(false);
    this.scheduleReport();
  };

  /** One compound RTCP packet to the peer (a report, or a report and BYE); false when there is nothing to send. */
  private sendRtcp(bye: boolean, sent?: () => void): boolean {
    const m = this.media;
    if (!this.rtcp || m === null || this.rtcpSendIp === null) return false;
    const now = performance.now();
    const report = bye ? this.rtcp.buildBye(now) : this.rtcp.buildReport(now);
    const out = m.srtp ? m.srtp.protectRtcp(report) : report;
    const socket = m.remote.rtcpMux || !this.rtcpSocket ? this.rtpSocket : this.rtcpSocket;
    // With latching, RTCP follows the latched host (its port: the signalled one, or RTP+1),
    // unless a=rtcp named another host for it (RFC 3605): then it goes there until the peer's
    // own RTCP arrives, and to where that comes from after.
    const src = this.receiver.source;
    const rx = this.receiver;
    let ip: string;
    let port: number;
    if (this.rtcpExplicit && rx.rtcpFromIp !== null) {
      // a=rtcp named a host, and the peer's RTCP has come: reply to where it came from.
      ip = rx.rtcpFromIp;
      port = rx.rtcpFromPort;
    } else {
      ip = this.rtcpExplicit ? this.rtcpSendIp : (src.ip ?? this.rtcpSendIp);
      port = m.remote.rtcpMux ? (src.ip ? src.port : this.rtcpSendPort) : this.rtcpSendPort;
    }
    this.stats.rtcpOut++;
    if (sent) socket.send(out, port, ip, sent);
    else socket.send(out, port, ip);
    return true;
  }

  private readonly onSocketError = (err: Error): void => {
    this.opts.log.warn({ err, port: this.port }, 'RTP socket error');
  };
}

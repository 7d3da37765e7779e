// Shapes shared by the transports and the layers above them.
export type TransportName = 'udp' | 'tcp' | 'tls';

/** §18: TCP and TLS are reliable (no retransmission timers A/E/G), framed by Content-Length, and reuse connections. */
export function isStream(transport: TransportName): boolean {
  return transport !== 'udp';
}

export interface Endpoint {
  transport: TransportName;
  address: string;
  port: number;
  /** The URI's host name when it was resolved from one: the TLS server name to check (RFC 5922 §7.2). */
  hostName?: string;
}

/** Bytes received on a listener, with where they came from and where they arrived. */
export interface Inbound {
  data: Buffer;
  source: Endpoint;
  local: { address: string; port: number };
  /** The TCP or TLS connection it came on, so responses reuse it (RFC 3261 §18.2.2). */
  connectionId: string | null;
  /** Over sip.maxMessageSize: the core answers 513 when it can, never processes it (§18.1.1). */
  oversized?: boolean;
  /**
   * A stream message whose length could not be read (no or a bad Content-Length): `data` is
   * its header block, the core answers 400 when it can and never processes it (§18.3); the
   * transport then closes the connection.
   */
  unframed?: string;
}

export interface SentInfo {
  local: { address: string; port: number };
  bytes: number;
}

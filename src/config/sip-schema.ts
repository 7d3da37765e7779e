// The `sip` section: listeners, the drachtio control port, RFC 3261 timers.
import { host, port } from './schema-parts.ts';

export type SipTransport = 'udp' | 'tcp' | 'tls';

export interface ListenConfig {
  transport: SipTransport;
  host: string;
  port: number;
  /** tls only: PEM certificate (chain) and private key files. */
  cert?: string;
  key?: string;
  /** tls only: PEM file of the CAs trusted for client certificates and for the servers B legs reach over TLS. */
  ca?: string;
  /** tls only: a client must present a certificate signed by `ca` (mutual TLS with an upstream). */
  requireClientCert?: boolean;
}

export interface SipConfig {
  /** `embedded` runs Parley's own SIP server in-process; `remote` connects to a drachtio-server. */
  server: 'embedded' | 'remote';
  listen: ListenConfig[];
  /** The drachtio control port: where the embedded server listens, or where the remote one is. */
  control: { host: string; port: number; secret: string };
  /** RFC 3261 timer values in milliseconds. */
  /**
   * RFC 3261 T1/T2/T4 in ms; minSE: RFC 4028 Min-SE in seconds; timerC: how long an INVITE sent
   * may ring (ms, reset by each provisional; 181000 when absent: §16.6 asks for more than 3 min).
   */
  timers: { t1: number; t2: number; t4: number; minSE: number; timerC?: number };
  maxMessageSize: number;
  /** TCP/TLS connections accepted at once per listener (file descriptors are shared with RTP and recordings). */
  maxConnections: number;
  /**
   * Server transactions alive at once for requests from one source address; past it a new
   * request gets a stateless 503 with Retry-After. 0: no limit.
   */
  maxTransactionsPerSource: number;
  /**
   * Per-source budget of SIP input (by packet source address): bytes a second (each message
   * counts at least 1 KB) with a bucket of sourceBurstBytes, and milliseconds of main-thread
   * time a second. Over it, UDP datagrams are dropped unparsed and TCP/TLS connections are
   * paused until it refills; one throttled past sourceMaxPausedMs is closed. 0: no such budget.
   */
  sourceBytesPerSecond: number;
  sourceBurstBytes: number;
  sourceCpuMsPerSecond: number;
  sourceMaxPausedMs: number;
  /** Public address written into Via/Contact instead of the bind address (NAT). */
  externalIp: string | null;
  /** Where Parley sends the legs it places (B legs, dial-outs) first: an upstream proxy URI. */
  outboundProxy: string | null;
  /** Embedded server: where in-dialog requests to a caller behind a NAT go (src/sip/dialog/nat-flow.ts). */
  natContact: 'auto' | 'always' | 'never';
  /**
   * Embedded server: how a URI's domain is resolved (RFC 3263; src/sip/core/sip-resolver.ts).
   * srv: NAPTR and SRV for a domain without a port (false: A/AAAA only); servers: the DNS
   * servers asked for them (`ip` or `ip:port`; empty: /etc/resolv.conf's); timeoutMs: one
   * query's limit; cacheSec: how long an answer is kept; failoverAfterMs: how long a target
   * that has not answered at all is waited for while another target is left (0: timer B/F).
   */
  dns: { srv: boolean; servers: string[]; timeoutMs: number; cacheSec: number; failoverAfterMs: number };
}

export const sipSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['server', 'listen', 'control', 'timers', 'maxMessageSize', 'externalIp'],
  properties: {
    server: { type: 'string', enum: ['embedded', 'remote'] },
    listen: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['transport', 'host', 'port'],
        properties: {
          transport: { type: 'string', enum: ['udp', 'tcp', 'tls'] },
          host,
          port,
          cert: { type: 'string', minLength: 1 },
          key: { type: 'string', minLength: 1 },
          ca: { type: 'string', minLength: 1 },
          requireClientCert: { type: 'boolean' },
        },
        // TLS needs a certificate and its key; the other transports take none of the TLS keys.
        if: { properties: { transport: { const: 'tls' } } },
        then: { required: ['cert', 'key'] },
        else: { description: 'free of cert, key, ca and requireClientCert (they are for transport tls)', not: { anyOf: [{ required: ['cert'] }, { required: ['key'] }, { required: ['ca'] }, { required: ['requireClientCert'] }] } },
      },
    },
    control: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port', 'secret'],
      properties: { host, port, secret: { type: 'string', minLength: 1 } },
    },
    timers: {
      type: 'object',
      additionalProperties: false,
      required: ['t1', 't2', 't4', 'minSE'],
      properties: {
        t1: { type: 'integer', minimum: 1, maximum: 60000 },
        t2: { type: 'integer', minimum: 1, maximum: 600000 },
        t4: { type: 'integer', minimum: 1, maximum: 600000 },
        minSE: { type: 'integer', minimum: 1, maximum: 86400 },
        timerC: { type: 'integer', minimum: 1, maximum: 86400000 },
      },
    },
    maxMessageSize: { type: 'integer', minimum: 1024, maximum: 1048576 },
    maxConnections: { type: 'integer', minimum: 1, maximum: 1000000 },
    maxTransactionsPerSource: { type: 'integer', minimum: 0, maximum: 10000000 },
    sourceBytesPerSecond: { type: 'integer', minimum: 0, maximum: 10000000000 },
    sourceBurstBytes: { type: 'integer', minimum: 1024, maximum: 10000000000 },
    sourceCpuMsPerSecond: { type: 'integer', minimum: 0, maximum: 1000 },
    sourceMaxPausedMs: { type: 'integer', minimum: 1000, maximum: 3600000 },
    externalIp: { type: 'string', nullable: true, minLength: 1 },
    outboundProxy: { type: 'string', nullable: true, pattern: '^sips?:' },
    natContact: { type: 'string', enum: ['auto', 'always', 'never'] },
    dns: {
      type: 'object',
      additionalProperties: false,
      required: ['srv', 'servers', 'timeoutMs', 'cacheSec', 'failoverAfterMs'],
      properties: {
        srv: { type: 'boolean' },
        servers: { type: 'array', maxItems: 8, items: { type: 'string', pattern: '^(\\d{1,3}(\\.\\d{1,3}){3}(:\\d{1,5})?|\\[[0-9a-fA-F:.]+\\](:\\d{1,5})?|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$' } },
        timeoutMs: { type: 'integer', minimum: 100, maximum: 30000 },
        cacheSec: { type: 'integer', minimum: 0, maximum: 86400 },
        // 0: a target is left only at its transaction's timeout (timer B or F: 32 s on UDP).
        failoverAfterMs: { type: 'integer', minimum: 0, maximum: 32000 },
      },
    },
  },
} as const;

export const defaultSip: SipConfig = {
  server: 'embedded',
  listen: [
    { transport: 'udp', host: '127.0.0.1', port: 5060 },
    { transport: 'tcp', host: '127.0.0.1', port: 5060 },
  ],
  control: { host: '127.0.0.1', port: 9022, secret: 'cymru' },
  timers: { t1: 500, t2: 4000, t4: 5000, minSE: 90 },
  maxMessageSize: 65535,
  maxConnections: 1024,
  maxTransactionsPerSource: 40000,
  sourceBytesPerSecond: 5000000,
  sourceBurstBytes: 5000000,
  sourceCpuMsPerSecond: 500,
  sourceMaxPausedMs: 30000,
  externalIp: null,
  outboundProxy: null,
  natContact: 'auto',
  dns: { srv: true, servers: [], timeoutMs: 2000, cacheSec: 60, failoverAfterMs: 4000 },
};

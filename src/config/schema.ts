// The configuration's JSON Schema. Every key here is documented in the README's
// "Configuration" section; keep the two in step.

import { defaultRouting, routingSchema } from './routing-schema.ts';
import { flowsSchema } from './flows-schema.ts';
import { defaultSiprec, siprecSchema, type SiprecConfig } from './siprec-schema.ts';
import { recordingEncryptionSchema, recordingStoreSchema, type RecordingEncryptionConfig, type RecordingStoreConfig } from './recording-store-schema.ts';
import type { FlowsConfig } from '../call/flow-types.ts';
import type { RoutingConfig } from '../policy/rule-types.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
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
  /** RFC 3261 T1/T2/T4 in ms; minSE: RFC 4028 Min-SE in seconds. */
  timers: { t1: number; t2: number; t4: number; minSE: number };
  maxMessageSize: number;
  /** Public address written into Via/Contact instead of the bind address (NAT). */
  externalIp: string | null;
  /** Where Parley sends the legs it places (B legs, dial-outs) first: an upstream proxy URI. */
  outboundProxy: string | null;
}

export interface MediaConfig {
  /** Number of mediasoup workers; `auto` is one per core. */
  workers: number | 'auto';
  /** Path of the mediasoup-worker binary; null uses MEDIASOUP_WORKER_BIN or the build cache. */
  workerBin: string | null;
  rtpIp: string;
  announcedIp: string | null;
  rtpPortRange: { min: number; max: number };
  codecs: string[];
  /**
   * Symmetric RTP: 'latch' sends to where the peer's first valid packet came
   * from (and re-latches after a re-offer or 2 s of silence), 'once' latches to
   * the first source for the leg's life, 'strict' accepts and sends only to the
   * SDP address. true/false are 'latch'/'strict'.
   */
  latching: boolean | 'latch' | 'once' | 'strict';
  /** narrowband: a room mixes at 8 kHz while all its legs are G.711 (sampleRate otherwise). */
  mixer: { sampleRate: number; narrowband: boolean; jitterMinMs: number; jitterMaxMs: number };
  /** An answered leg that sends no RTP for this long (not on hold) ends its call; 0 never. */
  rtpTimeoutSec: number;
  /** Media threads (worker_threads) that run the rooms; `auto` is one per core, 0 runs them on the main thread (debugging). */
  threads: number | 'auto';
  /** Browsers (WebRtcTransports on a room's Router): see WebRtcConfig. */
  webrtc: WebRtcConfig;
}

export interface WebRtcConfig {
  /** false: POST /rooms/:name/webrtc answers 503. */
  enabled: boolean;
  /** Where WebRtcTransports listen (ICE-lite host candidates). */
  listenIp: string;
  /** The address written into the ICE candidates instead of listenIp (NAT, a public IP or host name); null: listenIp. */
  announcedAddress: string | null;
  /** UDP ports for WebRtcTransports (one per browser). */
  portRange: { min: number; max: number };
  /** Also offer ICE-TCP candidates (browsers behind UDP-blocking firewalls). */
  tcp: boolean;
  /** A browser session that sends nothing (RTP, RTCP, ICE consent) this long is closed; at least 10 s. */
  timeoutSec: number;
}

export interface ParleyConfig {
  log: { level: LogLevel; pretty: boolean };
  sip: SipConfig;
  media: MediaConfig;
  /** voice: the espeak-ng voice for text prompts. */
  prompts: { dir: string; cacheDir: string; voice: string };
  /**
   * flushIntervalMs: how often buffered audio is written and WAV headers rewritten
   * (what a kill -9 can lose); pauseMode: 'skip' leaves paused time out of the files,
   * 'silence' keeps the timeline with silence. onWriteError: a call whose recording
   * cannot be written goes on ('continue') or ends ('hangup'); minFreeBytes: calls
   * that would record are refused (503) while recording.dir has less free space.
   */
  recording: {
    dir: string;
    postProcess: 'none' | 'ogg' | 'mp3';
    flushIntervalMs: number;
    pauseMode: 'skip' | 'silence';
    onWriteError: 'continue' | 'hangup';
    minFreeBytes: number;
    /** Ed25519 signing of finalized sidecars (src/recording/compliance/). keyFile null: generated in <dir>/.parley/. */
    signing: { keyFile: string | null };
    /** The append-only audit log (JSON lines, hash-chained); null: <dir>/.parley/audit.jsonl. */
    auditLog: string | null;
    /** Default retention (days; null: kept for ever) and how often expired recordings are swept. */
    retention: RetentionConfig;
    /** Encryption at rest (README "Encryption at rest"). */
    encryption?: RecordingEncryptionConfig;
    /** Upload of finalized recordings to a bucket (README "Object storage"); null: none. */
    store?: RecordingStoreConfig | null;
  };
  routing: RoutingConfig;
  flows: FlowsConfig;
  /** Who may start calls and how many (see src/call/admission.ts). */
  security: {
    upstreams: string[];
    maxCalls: number;
    maxCallRatePerSource: number;
    /** Legs one conference room may hold; 0: no limit. */
    maxLegsPerRoom: number;
    /** Digest authentication for callers that are not upstreams (null: none). */
    digest: { realm: string; users: Record<string, string> } | null;
  };
  /** SIGTERM: refuse new calls, let running ones finish for up to drainTimeoutMs, then end them. */
  shutdown: { drainTimeoutMs: number };
  /** How calls given to flows are handled (see src/call/call-manager.ts). */
  calls: CallsConfig;
  api: ApiConfig;
  /** The SIPREC recording server (src/config/siprec-schema.ts). */
  siprec: SiprecConfig;
  /** Several nodes as one service (src/cluster/); null or absent: Parley runs alone. */
  cluster?: ClusterConfig | null;
}

export interface ClusterConfig {
  /** This node's name in the cluster: unique, stable across restarts. */
  nodeId: string;
  /** host:port where other nodes and the upstream proxy reach this node's SIP (302 Contacts name it). */
  sipAddress: string;
  /** http(s)://host:port of this node's control API (other nodes forward actions there). */
  apiAddress: string;
  /** redis://host:port[/db] of the shared Redis. */
  redisUrl: string;
  /** How often the node refreshes its registry entry and its room leases. */
  heartbeatMs: number;
  /** How long a node's registry entry lives without a refresh (its death is noticed after this). */
  nodeTtlMs: number;
  /** How long a room lease lives without a renewal (a dead owner's rooms move after this). */
  leaseMs: number;
}

export interface RetentionConfig {
  /** Recordings are deleted this many days after they ended, unless held; null: never. A flow's record step or a rule may say otherwise. */
  days: number | null;
  /** How often the sweeper looks for expired recordings (seconds); 0: never. */
  sweepIntervalSec: number;
}

/** A named API token: the name is who the audit log says acted. */
export interface ApiToken {
  name: string;
  token: string;
}

export interface CallsConfig {
  /**
   * An INVITE without SDP (delayed offer, RFC 3261 §13.2.1): `offer` makes Parley's offer
   * in its reliable 183 or its 200 and takes the answer from the PRACK or ACK; `reject`
   * refuses it with 488.
   */
  delayedOffer: 'offer' | 'reject';
  /** How often the guard looks for calls without a live dialog (s); 0: never. */
  guardIntervalSec: number;
  /** A call still unanswered (no final response) after this long is ended with 408 by the guard. */
  maxUnansweredSec: number;
}

export interface WebhookConfig {
  /** Where events are POSTed as JSON. */
  url: string;
  /** HMAC-SHA256 key of the `X-Parley-Signature: sha256=<hex>` header. */
  secret: string;
  /** Which events are sent: `recording.saved`, `recording.stored`, `call.ended` (all when absent). */
  events?: ('recording.saved' | 'recording.stored' | 'call.ended')[];
}

export interface ApiConfig {
  enabled: boolean;
  host: string;
  port: number;
  /** The bearer token every request must carry (its name in the audit log: `default`); this or `tokens` is required when enabled. */
  token: string | null;
  /** More bearer tokens, each with a name (who acted, in the recordings' audit log). */
  tokens: ApiToken[];
  webhooks: WebhookConfig[];
  /** Attempts per webhook delivery (the first included); 0: no limit, webhookMaxRetryHours decides. Back-off doubles from retryBaseMs. */
  webhookAttempts: number;
  webhookRetryBaseMs: number;
  /** The longest back-off between two attempts of a delivery. */
  webhookRetryMaxMs: number;
  /** How long a delivery is retried (from its first attempt) before it goes to the dead letter. */
  webhookMaxRetryHours: number;
  /** How many recent events are kept for clients that (re)connect late (`since`). */
  eventBacklog: number;
  /** Where rule switches set through the API are kept across restarts. */
  rulesStateFile: string;
  /** Where webhook deliveries not yet done are journaled (JSON lines) for the next start. */
  webhookSpoolFile: string;
  /** Where webhook deliveries given up are kept (JSON lines) for GET /webhooks/dead-letter and replay. */
  webhookDeadLetterFile: string;
  console: ConsoleConfig;
}

/** The web console under /console (src/api/console/). */
export interface ConsoleConfig {
  enabled: boolean;
  /** How long a console session (the cookie the API token is exchanged for) lasts, from sign-in. */
  sessionTtlSec: number;
  /** The cookie's Secure attribute: `auto` when the request came over TLS, `always` behind a TLS-terminating proxy. */
  secureCookie: 'auto' | 'always';
  /** Origins besides the API's own host allowed to send state-changing console requests (a reverse proxy's public URL). */
  origins: string[];
}

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const host = { type: 'string', minLength: 1 } as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['log', 'sip', 'media', 'prompts', 'recording', 'routing', 'flows', 'security', 'shutdown', 'calls', 'api', 'siprec'],
  properties: {
    log: {
      type: 'object',
      additionalProperties: false,
      required: ['level', 'pretty'],
      properties: {
        level: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
        pretty: { type: 'boolean' },
      },
    },
    sip: {
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
          },
        },
        maxMessageSize: { type: 'integer', minimum: 1024, maximum: 1048576 },
        externalIp: { type: 'string', nullable: true, minLength: 1 },
        outboundProxy: { type: 'string', nullable: true, pattern: '^sips?:' },
      },
    },
    media: {
      type: 'object',
      additionalProperties: false,
      required: ['workers', 'workerBin', 'rtpIp', 'announcedIp', 'rtpPortRange', 'codecs', 'latching', 'mixer', 'rtpTimeoutSec', 'webrtc'],
      properties: {
        workers: {
          description: 'a positive integer or "auto"',
          oneOf: [
            { type: 'integer', minimum: 1, maximum: 64 },
            { type: 'string', const: 'auto' },
          ],
        },
        workerBin: { type: 'string', nullable: true, minLength: 1 },
        rtpIp: host,
        announcedIp: { type: 'string', nullable: true, minLength: 1 },
        rtpPortRange: {
          type: 'object',
          additionalProperties: false,
          required: ['min', 'max'],
          properties: {
            min: { type: 'integer', minimum: 1024, maximum: 65535 },
            max: { type: 'integer', minimum: 1024, maximum: 65535 },
          },
        },
        codecs: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { type: 'string', enum: ['PCMU', 'PCMA', 'G722', 'opus'] },
        },
        latching: { description: 'latch, once, strict (or true/false)', oneOf: [{ type: 'boolean' }, { type: 'string', enum: ['latch', 'once', 'strict'] }] },
        rtpTimeoutSec: { type: 'integer', minimum: 0, maximum: 86400 },
        threads: {
          description: 'a number of media threads (0: rooms run on the main thread) or "auto"',
          oneOf: [
            { type: 'integer', minimum: 0, maximum: 256 },
            { type: 'string', const: 'auto' },
          ],
        },
        webrtc: {
          type: 'object',
          additionalProperties: false,
          required: ['enabled', 'listenIp', 'announcedAddress', 'portRange', 'tcp', 'timeoutSec'],
          properties: {
            enabled: { type: 'boolean' },
            listenIp: host,
            announcedAddress: { type: 'string', nullable: true, minLength: 1, maxLength: 253 },
            portRange: {
              type: 'object',
              additionalProperties: false,
              required: ['min', 'max'],
              properties: {
                min: { type: 'integer', minimum: 1024, maximum: 65535 },
                max: { type: 'integer', minimum: 1024, maximum: 65535 },
              },
            },
            tcp: { type: 'boolean' },
            timeoutSec: { type: 'integer', minimum: 10, maximum: 3600 },
          },
        },
        mixer: {
          type: 'object',
          additionalProperties: false,
          required: ['sampleRate', 'jitterMinMs', 'jitterMaxMs'],
          properties: {
            sampleRate: { type: 'integer', enum: [8000, 16000, 48000] },
            narrowband: { type: 'boolean' },
            jitterMinMs: { type: 'integer', minimum: 20, maximum: 100 },
            jitterMaxMs: { type: 'integer', minimum: 20, maximum: 100 },
          },
        },
      },
    },
    prompts: {
      type: 'object',
      additionalProperties: false,
      required: ['dir', 'cacheDir', 'voice'],
      properties: {
        dir: { type: 'string', minLength: 1 },
        cacheDir: { type: 'string', minLength: 1 },
        voice: { type: 'string', pattern: '^[A-Za-z0-9_+-]{1,40}$' },
      },
    },
    recording: {
      type: 'object',
      additionalProperties: false,
      required: ['dir', 'postProcess', 'flushIntervalMs', 'pauseMode', 'onWriteError', 'minFreeBytes', 'signing', 'auditLog', 'retention'],
      properties: {
        signing: {
          type: 'object',
          additionalProperties: false,
          required: ['keyFile'],
          properties: { keyFile: { type: 'string', nullable: true, minLength: 1 } },
        },
        auditLog: { type: 'string', nullable: true, minLength: 1 },
        retention: {
          type: 'object',
          additionalProperties: false,
          required: ['days', 'sweepIntervalSec'],
          properties: {
            days: { type: 'number', nullable: true, exclusiveMinimum: 0, maximum: 36500 },
            sweepIntervalSec: { type: 'number', minimum: 0, maximum: 86400 },
          },
        },
        dir: { type: 'string', minLength: 1 },
        postProcess: { type: 'string', enum: ['none', 'ogg', 'mp3'] },
        flushIntervalMs: { type: 'integer', minimum: 20, maximum: 1000 },
        pauseMode: { type: 'string', enum: ['skip', 'silence'] },
        onWriteError: { type: 'string', enum: ['continue', 'hangup'] },
        minFreeBytes: { type: 'integer', minimum: 0 },
        encryption: recordingEncryptionSchema,
        store: recordingStoreSchema,
      },
    },
    routing: routingSchema,
    flows: flowsSchema,
    security: {
      type: 'object',
      additionalProperties: false,
      required: ['upstreams', 'maxCalls', 'maxCallRatePerSource', 'maxLegsPerRoom', 'digest'],
      properties: {
        upstreams: { type: 'array', items: { type: 'string', minLength: 1 } },
        maxCalls: { type: 'integer', minimum: 0 },
        maxCallRatePerSource: { type: 'number', minimum: 0 },
        maxLegsPerRoom: { type: 'integer', minimum: 0 },
        digest: {
          type: 'object',
          nullable: true,
          additionalProperties: false,
          required: ['realm', 'users'],
          properties: {
            realm: { type: 'string', pattern: '^[^"\\\\]+$' },
            users: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', minLength: 1 } },
          },
        },
      },
    },
    shutdown: {
      type: 'object',
      additionalProperties: false,
      required: ['drainTimeoutMs'],
      properties: { drainTimeoutMs: { type: 'integer', minimum: 0, maximum: 3600000 } },
    },
    calls: {
      type: 'object',
      additionalProperties: false,
      required: ['delayedOffer', 'guardIntervalSec', 'maxUnansweredSec'],
      properties: {
        delayedOffer: { type: 'string', enum: ['offer', 'reject'] },
        guardIntervalSec: { type: 'number', minimum: 0, maximum: 3600 },
        maxUnansweredSec: { type: 'number', minimum: 1, maximum: 3600 },
      },
    },
    api: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled', 'host', 'port', 'token', 'webhooks', 'webhookAttempts', 'webhookRetryBaseMs', 'eventBacklog', 'rulesStateFile', 'webhookSpoolFile', 'webhookRetryMaxMs', 'webhookMaxRetryHours', 'webhookDeadLetterFile', 'console'],
      properties: {
        enabled: { type: 'boolean' },
        host,
        port,
        token: { type: 'string', nullable: true, minLength: 16 },
        tokens: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'token'],
            properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.@-]{1,64}$' }, token: { type: 'string', minLength: 16 } },
          },
        },
        webhooks: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['url', 'secret'],
            properties: {
              url: { type: 'string', pattern: '^https?://' },
              secret: { type: 'string', minLength: 1 },
              events: {
                type: 'array',
                uniqueItems: true,
                items: { type: 'string', enum: ['recording.saved', 'recording.stored', 'call.ended'] },
              },
            },
          },
        },
        webhookAttempts: { type: 'integer', minimum: 0, maximum: 100000 },
        webhookRetryBaseMs: { type: 'integer', minimum: 10, maximum: 600000 },
        webhookRetryMaxMs: { type: 'integer', minimum: 10, maximum: 86400000 },
        webhookMaxRetryHours: { type: 'number', exclusiveMinimum: 0, maximum: 720 },
        eventBacklog: { type: 'integer', minimum: 0, maximum: 100000 },
        rulesStateFile: { type: 'string', minLength: 1 },
        webhookSpoolFile: { type: 'string', minLength: 1 },
        webhookDeadLetterFile: { type: 'string', minLength: 1 },
        console: {
          type: 'object',
          additionalProperties: false,
          required: ['enabled', 'sessionTtlSec', 'secureCookie', 'origins'],
          properties: {
            enabled: { type: 'boolean' },
            sessionTtlSec: { type: 'integer', minimum: 60, maximum: 604800 },
            secureCookie: { type: 'string', enum: ['auto', 'always'] },
            origins: { type: 'array', items: { type: 'string', pattern: '^https?://[^/\\s]+$' } },
          },
        },
      },
    },
    siprec: siprecSchema,
    cluster: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: ['nodeId', 'sipAddress', 'apiAddress', 'redisUrl', 'heartbeatMs', 'nodeTtlMs', 'leaseMs'],
      properties: {
        nodeId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
        sipAddress: { description: 'host:port', type: 'string', pattern: '^[A-Za-z0-9_.:\\[\\]-]+:[0-9]{1,5}$' },
        apiAddress: { type: 'string', pattern: '^https?://[^/]+$' },
        redisUrl: { type: 'string', pattern: '^rediss?://' },
        heartbeatMs: { type: 'integer', minimum: 100, maximum: 60000 },
        nodeTtlMs: { type: 'integer', minimum: 300, maximum: 600000 },
        leaseMs: { type: 'integer', minimum: 300, maximum: 600000 },
      },
    },
  },
} as const;

/** Defaults of the cluster section's tuning keys (the section itself defaults to null). */
export const defaultClusterTuning = { heartbeatMs: 1000, nodeTtlMs: 3000, leaseMs: 5000 } as const;

/** Defaults: a file only states what it changes. Loopback everywhere by default. */
export const defaultConfig: ParleyConfig = {
  log: { level: 'info', pretty: false },
  sip: {
    server: 'embedded',
    listen: [
      { transport: 'udp', host: '127.0.0.1', port: 5060 },
      { transport: 'tcp', host: '127.0.0.1', port: 5060 },
    ],
    control: { host: '127.0.0.1', port: 9022, secret: 'cymru' },
    timers: { t1: 500, t2: 4000, t4: 5000, minSE: 90 },
    maxMessageSize: 65535,
    externalIp: null,
    outboundProxy: null,
  },
  media: {
    workers: 'auto',
    workerBin: null,
    rtpIp: '127.0.0.1',
    announcedIp: null,
    rtpPortRange: { min: 40000, max: 49999 },
    codecs: ['PCMU', 'PCMA', 'G722', 'opus'],
    latching: 'latch',
    mixer: { sampleRate: 16000, narrowband: true, jitterMinMs: 20, jitterMaxMs: 100 },
    rtpTimeoutSec: 60,
    threads: 'auto',
    webrtc: { enabled: true, listenIp: '127.0.0.1', announcedAddress: null, portRange: { min: 50000, max: 50999 }, tcp: false, timeoutSec: 30 },
  },
  prompts: { dir: 'prompts', cacheDir: '.cache/prompts', voice: 'en-us' },
  recording: { dir: 'recordings', postProcess: 'none', flushIntervalMs: 250, pauseMode: 'skip', onWriteError: 'continue',
    minFreeBytes: 100_000_000,
    signing: { keyFile: null },
    auditLog: null,
    retention: { days: null, sweepIntervalSec: 3600 },
  },
  routing: defaultRouting,
  flows: {},
  security: { upstreams: [], maxCalls: 0, maxCallRatePerSource: 0, maxLegsPerRoom: 0, digest: null },
  shutdown: { drainTimeoutMs: 30000 },
  calls: { delayedOffer: 'offer', guardIntervalSec: 10, maxUnansweredSec: 50 },
  api: {
    enabled: false,
    host: '127.0.0.1',
    port: 8080,
    token: null,
    tokens: [],
    webhooks: [],
    webhookAttempts: 0,
    webhookRetryBaseMs: 1000,
    webhookRetryMaxMs: 300000,
    webhookMaxRetryHours: 6,
    eventBacklog: 1000,
    rulesStateFile: '.parley/rules-state.json',
    webhookSpoolFile: '.parley/webhooks-pending.json',
    webhookDeadLetterFile: '.parley/webhooks-dead-letter.jsonl',
    console: { enabled: true, sessionTtlSec: 28800, secureCookie: 'auto', origins: [] },
  },
  siprec: defaultSiprec,
  cluster: null,
};

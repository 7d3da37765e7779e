// The `api` section: the control API, its tokens, webhooks and the web console.
import { host, port } from './schema-parts.ts';

/** A named API token: the name is who the audit log says acted. */
export interface ApiToken {
  name: string;
  token: string;
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
  /** How long a client may take to send a whole request (headers and body); past it the connection is closed (slowloris). */
  requestTimeoutMs: number;
  /** Connections the API holds at once (event streams included); past it a new one is closed at once. */
  maxConnections: number;
  /** Bytes of temporary copies of recording.store objects on disk at once (downloads); past it a download needing a new one gets 503. */
  bucketCopiesMaxBytes: number;
  /** Where rule switches set through the API are kept across restarts; null: <recording.dir>/.parley/rules-state.json. */
  rulesStateFile: string | null;
  /** Where webhook deliveries not yet done are journaled (JSON lines) for the next start; null: <recording.dir>/.parley/webhooks-pending.json. */
  webhookSpoolFile: string | null;
  /** Where webhook deliveries given up are kept (JSON lines) for GET /webhooks/dead-letter and replay; null: <recording.dir>/.parley/webhooks-dead-letter.jsonl. */
  webhookDeadLetterFile: string | null;
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

export const apiSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled', 'host', 'port', 'token', 'webhooks', 'webhookAttempts', 'webhookRetryBaseMs', 'eventBacklog', 'rulesStateFile', 'webhookSpoolFile', 'webhookRetryMaxMs', 'webhookMaxRetryHours', 'webhookDeadLetterFile', 'requestTimeoutMs', 'maxConnections', 'bucketCopiesMaxBytes', 'console'],
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
    requestTimeoutMs: { type: 'integer', minimum: 500, maximum: 600000 },
    maxConnections: { type: 'integer', minimum: 1, maximum: 1000000 },
    bucketCopiesMaxBytes: { type: 'integer', minimum: 1, maximum: 1e15 },
    rulesStateFile: { type: 'string', nullable: true, minLength: 1 },
    webhookSpoolFile: { type: 'string', nullable: true, minLength: 1 },
    webhookDeadLetterFile: { type: 'string', nullable: true, minLength: 1 },
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
} as const;

export const defaultApi: ApiConfig = {
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
  requestTimeoutMs: 30000,
  maxConnections: 1024,
  bucketCopiesMaxBytes: 4 * 1024 ** 3,
  rulesStateFile: null,
  webhookSpoolFile: null,
  webhookDeadLetterFile: null,
  console: { enabled: true, sessionTtlSec: 28800, secureCookie: 'auto', origins: [] },
};

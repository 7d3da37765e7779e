// The control API: a Fastify server on loopback by default, a bearer token on
// every request (in the Authorization header; a query `token` only on the event
// stream, for WebSocket clients that cannot set headers) or the web console's
// session cookie (console/console-auth.ts), JSON schemas on every
// route (400 names the field), one error handler, the OpenAPI document built
// from the route schemas, the event stream, the webhooks and their dead letter.
// Owned by Parley: start() after the SIP side, close() first.
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import fastifySwagger from '@fastify/swagger';
import type { OpenAPIV3 } from 'openapi-types';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Parley } from '../app.ts';
import type { ApiConfig, ApiToken } from '../config/schema.ts';
import { listenError } from '../util/listen-error.ts';
import { componentLogger, type Logger } from '../util/logger.ts';
import { ApiError } from './api-error.ts';
import { BucketCopies } from './bucket-copies.ts';
import { removeAbandonedCopies } from './copies-folder.ts';
import { ConsoleAssets } from './console/console-assets.ts';
import { ConsoleAuth } from './console/console-auth.ts';
import { ConsoleSessions, type ConsoleSession } from './console/console-sessions.ts';
import { EventHub, type ApiEvent } from './event-hub.ts';
import { Metrics } from './metrics.ts';
import { RuleStateStore } from './rule-state-store.ts';
import { apiStateFiles } from './state-files.ts';
import { callRoutes } from './routes/calls.ts';
import { consoleRoutes } from './routes/console.ts';
import { eventRoutes } from './routes/events.ts';
import { recordingComplianceRoutes } from './routes/recording-compliance.ts';
import { recordingRoutes } from './routes/recordings.ts';
import { roomRoutes } from './routes/rooms.ts';
import { ruleRoutes } from './routes/rules.ts';
import { systemRoutes } from './routes/system.ts';
import { webAssetRoutes } from './routes/web-assets.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { clusterRoutes } from '../cluster/cluster-routes.ts';
import { webrtcRoutes } from './routes/webrtc.ts';
import { WebhookSender } from './webhook-sender.ts';
import { within } from '../util/within.ts';

const EVENTS_PATH = {
  get: {
    summary: 'WebSocket event stream: one JSON message per event (call.created, call.ended, leg.joined, leg.left, leg.held, leg.resumed, talking, dtmf, recording.started, recording.state, recording.saved, recording.stored, recording.failed, rule.matched)',
    parameters: [
      { name: 'token', in: 'query', required: false, schema: { type: 'string' }, description: 'the bearer token, for clients that cannot set headers' },
      { name: 'since', in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]{1,15}$' }, description: 'replay the kept events after this seq before the live ones' },
    ],
    responses: { '101': { description: 'Switching Protocols: the stream follows' }, '401': { description: 'no or wrong token' } },
  },
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the token: static pages and scripts with no data in them. */
    public?: boolean;
  }
}

export interface ApiContext {
  parley: Parley;
  hub: EventHub;
  metrics: Metrics;
  rules: RuleStateStore;
  webhooks: WebhookSender;
  log: Logger;
  /** The web console's sessions and built files; null when api.console.enabled is false. */
  console?: ConsoleAuth | null;
  consoleAssets?: ConsoleAssets | null;
  /** The verified copies of bucket objects that downloads share (recordings routes); made by build() when not given. */
  copies?: BucketCopies;
}

export class ApiServer {
  private closed = false;
  /** Every TCP connection to the API (HTTP keep-alive and upgraded WebSockets alike), destroyed on close. */
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly parley: Parley,
    readonly app: FastifyInstance,
    readonly hub: EventHub,
    private readonly webhooks: WebhookSender,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly consoleAuth: ConsoleAuth | null,
    private readonly copies: BucketCopies,
  ) {
    app.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  /** Builds and listens; the rule switches saved by a previous run are applied first. */
  static async start(parley: Parley, config: ApiConfig, recordingDir: string, log: Logger): Promise<ApiServer> {
    const files = await apiStateFiles(config, recordingDir, log);
    const rules = new RuleStateStore(files.rules, parley.routing, log);
    rules.restore();
    const hub = new EventHub(parley, log, config.eventBacklog);
    const metrics = new Metrics(parley);
    const webhooks = new WebhookSender(
      {
        hooks: config.webhooks,
        attempts: config.webhookAttempts,
        retryBaseMs: config.webhookRetryBaseMs,
        retryMaxMs: config.webhookRetryMaxMs,
        retryWindowMs: config.webhookMaxRetryHours * 3_600_000,
        spoolFile: files.spool,
        deadLetterFile: files.deadLetter,
      },
      componentLogger(log, 'webhooks'),
    );
    // In a cluster the webhooks go through the cluster's stream (delivered once, even when a node dies).
    const deliver = parley.cluster ? parley.cluster.attachWebhooks(webhooks) : (e: ApiEvent): void => webhooks.handle(e);
    hub.on('event', (e) => {
      metrics.handle(e);
      deliver(e);
    });
    // A recording's finalize mark goes once its recording.saved is in the spool (src/recording/finalize-marks.ts).
    // Asked in the same turn as the event was published: once the API is closed the event went
    // nowhere, so the mark stays and the next start reports the recording.
    parley.recordings?.reportedBy(() => (hub.isClosed ? Promise.reject(new Error('the API had closed: recording.saved not reported')) : webhooks.settled()));
    const tokens = [...(config.token ? [{ name: 'default', token: config.token }] : []), ...(config.tokens ?? [])];
    const cc = config.console;
    const consoleAuth = cc.enabled ? new ConsoleAuth(new ConsoleSessions(cc.sessionTtlSec), { secureCookie: cc.secureCookie, origins: cc.origins }) : null;
    const consoleAssets = cc.enabled ? await ConsoleAssets.load() : null;
    if (consoleAssets && !consoleAssets.index) log.warn('the web console is not built (npm run build:console): /console answers 503');
    // Copies a killed Parley left (a kill skips close()): its folder names it (copies-folder.ts).
    await removeAbandonedCopies(log);
    const copies = new BucketCopies({ limitBytes: config.bucketCopiesMaxBytes });
    const app = await ApiServer.build({ parley, hub, metrics, rules, webhooks, log, console: consoleAuth, consoleAssets, copies }, tokens, config.requestTimeoutMs);
    const server = new ApiServer(parley, app, hub, webhooks, metrics, log, consoleAuth, copies);
    // Each connection holds a descriptor, which RTP sockets and recordings need too: past
    // api.maxConnections Node closes a new one at once (a flood of connections, each within
    // api.requestTimeoutMs, could otherwise take them all).
    app.server.maxConnections = config.maxConnections;
    app.server.on('drop', (d?: { remoteAddress?: string }) => server.dropped(d?.remoteAddress ?? null, config.maxConnections));
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (err) {
      server.close();
      throw listenError('api', { transport: 'http', host: config.host, port: config.port }, err);
    }
    log.info({ url: server.url }, 'control API listening');
    await webhooks.resumeSpool();
    return server;
  }

  /**
   * `tokens`: a bare string is the one token named `default`. `requestTimeoutMs`: a request
   * (headers and body) not whole by then gets 408 and its connection is closed, whoever sent
   * it: without it a client trickling a body (slowloris, no token needed: the 401 is sent
   * before the body is read) held its descriptor for ever, and descriptors are what RTP
   * sockets and recordings need too.
   */
  static async build(ctx: ApiContext, tokens: string | readonly ApiToken[], requestTimeoutMs = 30_000): Promise<FastifyInstance> {
    const app = Fastify({
      logger: false,
      bodyLimit: 64 * 1024,
      requestTimeout: requestTimeoutMs,
      // Node checks the deadlines every connectionsCheckingInterval (30 s by default): often enough to keep them.
      http: { headersTimeout: requestTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(requestTimeoutMs / 4))) },
      ajv: { customOptions: { allErrors: false, removeAdditional: false, coerceTypes: false } },
      // A URL the router refuses (a parameter past its length, bad escapes) answers in the API's shape too.
      frameworkErrors: (err, _req, reply) => {
        const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
        const r = reply as unknown as { code(n: number): { send(body: unknown): unknown } };
        void r.code(status).send({ error: errorLabel(status), message: err.message.length > 200 ? `${err.message.slice(0, 200)}…` : err.message });
      },
    });
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: 'Parley control API', version: '1' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
      // @fastify/websocket hides WebSocket routes from the document; /events is described here.
      transformObject: (d) => {
        const doc = (d as { openapiObject: OpenAPIV3.Document }).openapiObject;
        doc.paths = { ...doc.paths, '/events': EVENTS_PATH as OpenAPIV3.PathItemObject };
        return doc;
      },
    });
    await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } });

    const expected = (typeof tokens === 'string' ? [{ name: 'default', token: tokens }] : tokens)
      .filter((t) => t.token.length > 0)
      .map((t) => ({ name: t.name, token: Buffer.from(t.token) }));
    app.decorateRequest('tokenName', '');
    app.decorateRequest('consoleSession', null);
    app.addHook('onRequest', async (req) => {
      if (req.routeOptions.config?.public) return;
      const name = authorized(req, expected);
      if (name !== null) {
        req.tokenName = name;
        return;
      }
      // A console cookie: a stale or forged one is a 401, a forged request a 403 (console-auth.ts).
      const session = ctx.console?.authorize(req);
      if (session) {
        req.tokenName = session.tokenName;
        req.consoleSession = session;
        return;
      }
      throw new ApiError(401, 'unauthorized', 'a valid bearer token is required');
    });
    app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
      if (err instanceof ApiError) {
        // RFC 6750 §3: a 401 names the scheme it wants.
        if (err.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="parley"');
        return reply.code(err.status).send({ error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) });
      }
      if (err.validation && err.validation.length > 0) {
        const v = err.validation[0]!;
        const params = v.params as { missingProperty?: string; additionalProperty?: string };
        const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        const leaf = params.missingProperty ?? params.additionalProperty;
        const field = [err.validationContext, path, leaf].filter(Boolean).join('.');
        return reply.code(400).send({ error: 'bad_request', message: `${field}: ${v.message ?? 'invalid'}`, field });
      }
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) ctx.log.error({ err, url: req.url }, 'API handler failed');
      return reply.code(status).send({ error: status === 500 ? 'internal' : errorLabel(status), message: status === 500 ? 'internal error' : err.message });
    });
    app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));

    systemRoutes(app, ctx);
    callRoutes(app, ctx);
    roomRoutes(app, ctx);
    recordingComplianceRoutes(app, ctx);
    recordingRoutes(app, ctx);
    ruleRoutes(app, ctx);
    eventRoutes(app, ctx, requestTimeoutMs);
    webhookRoutes(app, ctx);
    consoleRoutes(app, ctx, expected);
    webrtcRoutes(app, ctx);
    webAssetRoutes(app);
    clusterRoutes(app, ctx);
    app.get('/openapi.json', { schema: { summary: 'This document (OpenAPI 3)' } }, async () => app.swagger());
    await app.ready();
    return app;
  }

  get url(): string {
    const a = this.app.server.address();
    return a && typeof a === 'object' ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : '';
  }

  private lastDropLogMs = -Infinity;

  /** A connection refused past api.maxConnections: logged at most every 5 s. */
  dropped(from: string | null, max: number): void {
    const now = performance.now();
    if (now - this.lastDropLogMs < 5000) return;
    this.lastDropLogMs = now;
    this.log.warn({ from, maxConnections: max }, 'api.maxConnections reached: connection refused');
  }

  /** Resolves once the webhook spool and dead letter hold on disk everything written so far (after close(): all pending deliveries). */
  settled(): Promise<void> {
    return this.webhooks.settled();
  }

  /**
   * A clean stop, before close(): the webhook requests in flight (and those queued
   * behind them for a free slot) finish, for at most `timeoutMs`; close() would abort
   * them, and the next start would send again a delivery the receiver had taken.
   */
  quiesce(timeoutMs: number): Promise<void> {
    return within(timeoutMs, async () => {
      while (!this.closed && this.webhooks.busy()) await new Promise((r) => setTimeout(r, 10));
    });
  }

  /** Synchronous and idempotent: stops webhooks and the hub now; the HTTP server closes in the background. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.parley.cluster?.detachWebhooks();
    this.webhooks.close();
    this.hub.close();
    this.consoleAuth?.sessions.close();
    // Now, not in fastify's onClose: the process may exit before the HTTP server has closed.
    this.copies.close();
    for (const c of this.app.websocketServer?.clients ?? []) c.terminate();
    // An upgraded socket is no longer the HTTP server's, so its close() would wait for it.
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.app.close().then(
      () => this.metrics.close(),
      (err: unknown) => this.log.warn({ err }, 'API server close failed'),
    );
  }
}

/** The route that may carry the token in its query: a browser's WebSocket cannot set headers. */
const QUERY_TOKEN_ROUTE = '/events';

declare module 'fastify' {
  interface FastifyRequest {
    /** The name of the token the request carried (api.tokens; api.token is `default`): who acted, in the audit log. */
    tokenName: string;
    /** The console session whose cookie authorized the request (null: a bearer token): what it opens ends with it. */
    consoleSession: ConsoleSession | null;
  }
}

/** The `error` of each 4xx the framework raises (a body too large, a media type not taken, …); any other: bad_request. */
const ERROR_LABELS: Readonly<Record<number, string>> = { 404: 'not_found', 405: 'method_not_allowed', 406: 'not_acceptable', 413: 'too_large', 414: 'uri_too_long', 415: 'unsupported_media_type', 431: 'headers_too_large' };

function errorLabel(status: number): string {
  return ERROR_LABELS[status] ?? 'bad_request';
}

/** The name of the token the request carries, or null. Every token is compared (constant time each). */
function authorized(req: FastifyRequest, expected: readonly { name: string; token: Buffer }[]): string | null {
  if (expected.length === 0) return null;
  const header = req.headers.authorization;
  let given: string | undefined;
  // The scheme's name is case-insensitive (RFC 7235 §2.1): `bearer` is `Bearer`.
  const bearer = header ? /^bearer[ \t]+(\S+)\s*$/i.exec(header) : null;
  if (bearer) given = bearer[1];
  // Anywhere else a query token would end up in proxy logs, browser history and Referer headers.
  else if (req.routeOptions.url === QUERY_TOKEN_ROUTE) given = (req.query as { token?: string } | undefined)?.token;
  if (!given) return null;
  const g = Buffer.from(given);
  let found: string | null = null;
  for (const e of expected) if (g.length === e.token.length && timingSafeEqual(g, e.token)) found = e.name;
  return found;
}

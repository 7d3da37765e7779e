// The web console: its page and assets under /console (public: they hold no
// data), and the sign-in that exchanges the API token for a session cookie
// (console/console-auth.ts says what the cookie then authorizes, and how
// forgery is kept out).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiError } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import type { ConsoleAsset } from '../console/console-assets.ts';
import { SignInThrottle } from '../console/sign-in-throttle.ts';
import { anyObject, errors } from './schemas.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a token or session (the console's page, assets and sign-in). */
    public?: boolean;
  }
}

/**
 * The page loads only its own script and style, talks only to its own origin
 * (fetch and the event stream's WebSocket), plays recordings from blob: URLs
 * it makes, and may not be framed.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function send(reply: FastifyReply, a: ConsoleAsset): FastifyReply {
  return reply
    .type(a.type)
    .header('Cache-Control', a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('Content-Security-Policy', CONSOLE_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY')
    .send(a.body);
}

export function consoleRoutes(app: FastifyInstance, ctx: ApiContext, tokens: readonly { name: string; token: Buffer }[]): void {
  const auth = ctx.console;
  const assets = ctx.consoleAssets;
  if (!auth || !assets) return;
  const hidden = { hide: true } as const;
  const throttle = new SignInThrottle();

  app.get('/console', { config: { public: true }, schema: hidden }, async (_req, reply) => reply.redirect('/console/', 301));

  app.get('/console/', { config: { public: true }, schema: hidden }, async (_req, reply) => {
    if (!assets.index) throw new ApiError(503, 'unavailable', 'the console is not built: run `npm run build:console`');
    return send(reply, assets.index);
  });

  app.get('/console/assets/:file', { config: { public: true }, schema: { ...hidden, params: { type: 'object', properties: { file: { type: 'string', maxLength: 128 } } } } }, async (req, reply) => {
    const a = assets.asset((req.params as { file: string }).file);
    if (!a) throw new ApiError(404, 'not_found', 'no such console asset');
    return send(reply, a);
  });

  app.post(
    '/console/session',
    {
      config: { public: true },
      schema: {
        summary: 'Console sign-in: exchanges the API token for a session cookie (HttpOnly, SameSite=Strict, api.console.sessionTtlSec); needs X-Parley-Console: 1',
        body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 1024 } } },
        response: { 200: anyObject, ...errors, 403: anyObject, 429: anyObject },
      },
    },
    async (req, reply) => {
      // A sign-in forced from another site would put the victim in the attacker's session: the same checks as any action.
      auth.checkOrigin(req);
      const wait = throttle.retryAfterMs(req.ip);
      if (wait > 0) {
        reply.header('Retry-After', String(Math.ceil(wait / 1000)));
        throw new ApiError(429, 'too_many_requests', 'too many wrong tokens from this address: try again later');
      }
      const given = Buffer.from((req.body as { token: string }).token);
      // Every configured token is compared (no early exit: the time does not tell which one matched).
      let matched: string | null = null;
      for (const t of tokens) if (t.token.length > 0 && given.length === t.token.length && timingSafeEqual(given, t.token) && matched === null) matched = t.name;
      if (matched === null) {
        throttle.fail(req.ip);
        ctx.log.warn({ ip: req.ip }, 'console sign-in with a wrong token');
        throw new ApiError(401, 'unauthorized', 'wrong token');
      }
      throttle.succeed(req.ip);
      const { id, session } = auth.sessions.create(matched);
      ctx.log.info({ ip: req.ip, token: session.tokenName, expiresAt: new Date(session.expiresAt).toISOString() }, 'console sign-in');
      return reply.header('Set-Cookie', auth.setCookie(req, id)).header('Cache-Control', 'no-store').send({ ok: true, expiresAt: new Date(session.expiresAt).toISOString() });
    },
  );

  app.get('/console/session', { schema: { summary: 'The console session of this request (null when authorized by the bearer token)', response: { 200: anyObject, ...errors } } }, async (req) => {
    const s = auth.sessions.get(auth.cookie(req));
    return { session: s ? { createdAt: new Date(s.createdAt).toISOString(), expiresAt: new Date(s.expiresAt).toISOString(), token: s.tokenName } : null };
  });

  app.delete('/console/session', { schema: { summary: 'Console sign-out: the session ends on the server and the cookie is cleared', response: { 200: anyObject, ...errors } } }, async (req, reply) => {
    const ended = auth.sessions.delete(auth.cookie(req));
    if (ended) ctx.log.info({ ip: req.ip }, 'console sign-out');
    return reply.header('Set-Cookie', auth.clearCookie(req)).send({ ok: true, ended });
  });
}

// Health (the process answers), readiness (media workers and SIP up), metrics.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-server.ts';
import { errors } from './schemas.ts';

export function systemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/health',
    { schema: { summary: 'The process answers', response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, ...errors } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/ready',
    {
      schema: {
        summary: 'Media workers, calls and recordings are up, and Parley is not draining',
        response: {
          200: { type: 'object', properties: { ready: { type: 'boolean' }, workers: { type: 'integer' }, draining: { type: 'boolean' } } },
          503: { type: 'object', properties: { ready: { type: 'boolean' }, workers: { type: 'integer' }, draining: { type: 'boolean' } } },
          ...errors,
        },
      },
    },
    async (_req, reply) => {
      const p = ctx.parley;
      const workers = p.media?.isClosed === false ? p.media.workerPids.length : 0;
      const draining = p.calls?.draining ?? false;
      // A draining Parley (SIGTERM) takes no new calls: a load balancer should look elsewhere.
      const ready = workers > 0 && p.calls !== null && p.recordings !== null && !draining;
      return reply.code(ready ? 200 : 503).send({ ready, workers, draining });
    },
  );
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text exposition format)', produces: ['text/plain'] } }, async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
}

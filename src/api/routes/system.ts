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
        summary: 'Media workers, calls and recordings are up',
        response: {
          200: { type: 'object', properties: { ready: { type: 'boolean' }, workers: { type: 'integer' } } },
          503: { type: 'object', properties: { ready: { type: 'boolean' }, workers: { type: 'integer' } } },
          ...errors,
        },
      },
    },
    async (_req, reply) => {
      const p = ctx.parley;
      const workers = p.media?.isClosed === false ? p.media.workerPids.length : 0;
      const ready = workers > 0 && p.calls !== null && p.recordings !== null;
      return reply.code(ready ? 200 : 503).send({ ready, workers });
    },
  );
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text exposition format)', produces: ['text/plain'] } }, async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
}

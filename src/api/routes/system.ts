// Health (the process answers), readiness (media workers and SIP up), metrics.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api-error.ts';
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
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format); `name` (repeatable) keeps only those metrics',
        produces: ['text/plain'],
        querystring: {
          type: 'object',
          properties: { name: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 50 }] } },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const registry = ctx.metrics.registry;
      const q = (req.query as { name?: string | string[] }).name;
      let body: string;
      if (q === undefined) {
        body = await registry.metrics();
      } else {
        // Only the metrics asked for are collected (a full scrape also walks every leg of every room).
        const names = Array.isArray(q) ? q : [q];
        for (const n of names) if (!registry.getSingleMetric(n)) throw new ApiError(400, 'bad_request', `querystring.name: no metric '${n}'`, 'querystring.name');
        body = (await Promise.all(names.map((n) => registry.getSingleMetricAsString(n)))).map((t) => `${t}\n`).join('');
      }
      return reply.type(registry.contentType).send(body);
    },
  );
}

// The webhook dead letter: deliveries given up after api.webhookMaxRetryHours
// (or api.webhookAttempts), listed, and replayed (all, or by delivery id) with
// their delivery id, a new retry window, and the attempt count going on.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-server.ts';
import { anyObject, errors } from './schemas.ts';

const deliveryId = { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' } as const;

const deadLetterEntry = {
  type: 'object',
  properties: {
    delivery: { type: 'string' },
    url: { type: 'string' },
    event: anyObject,
    attempts: { type: 'integer' },
    firstAttemptAt: { type: 'string' },
    deadAt: { type: 'string' },
    lastError: { type: 'string' },
  },
} as const;

export function webhookRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/webhooks/dead-letter',
    {
      schema: {
        summary: 'Webhook deliveries given up (retry window over), oldest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$', description: 'at most this many (default 1000)' } },
        },
        response: {
          200: { type: 'object', properties: { count: { type: 'integer' }, entries: { type: 'array', items: deadLetterEntry } } },
          ...errors,
        },
      },
    },
    async (req) => {
      const all = (await ctx.webhooks.deadLetter?.list()) ?? [];
      const limit = Number((req.query as { limit?: string }).limit ?? 1000);
      return { count: all.length, entries: all.slice(0, limit) };
    },
  );

  app.post(
    '/webhooks/dead-letter/replay',
    {
      // `curl -X POST …/replay` with no body at all means all of them, like `{}`.
      preValidation: async (req) => {
        if (req.body === undefined) req.body = {};
      },
      schema: {
        summary: 'Send dead-letter deliveries again (all, or those listed), same delivery id; they leave the dead letter',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            deliveries: { type: 'array', minItems: 1, maxItems: 10000, uniqueItems: true, items: deliveryId, description: 'delivery ids; all when absent' },
          },
        },
        response: {
          202: {
            type: 'object',
            properties: {
              replayed: { type: 'array', items: { type: 'string' } },
              notFound: { type: 'array', items: { type: 'string' } },
              notConfigured: { type: 'array', items: { type: 'string' }, description: 'for a URL no longer configured: left in the dead letter' },
            },
          },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const ids = (req.body as { deliveries?: string[] } | undefined)?.deliveries ?? null;
      const result = await ctx.webhooks.replay(ids);
      ctx.log.info({ asked: ids?.length ?? 'all', replayed: result.replayed.length, notFound: result.notFound.length, notConfigured: result.notConfigured.length }, 'webhook dead letter replayed through the API');
      return reply.code(202).send(result);
    },
  );
}

// The rule chain: list the rules and their switches; switch one on or off for
// everyone or for one user's URI (saved to api.rulesStateFile).
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import { anyArray, anyObject, errors, nameParam } from './schemas.ts';

export function ruleRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const describe = (): Record<string, unknown>[] => {
    const chain = ctx.parley.routing.chain;
    const sw = chain.getSwitches();
    return chain.config.rules.map((r) => ({
      name: r.name,
      configured: r.enabled ?? true,
      enabled: sw.global[r.name] ?? r.enabled ?? true,
      scope: r.scope ?? null,
      perUser: sw.perUser[r.name] ?? {},
    }));
  };

  app.get('/rules', { schema: { summary: 'The rule chain, in order, with its switches', response: { 200: anyArray, ...errors } } }, async () => describe());

  app.post(
    '/rules/:name',
    {
      schema: {
        summary: 'Switch a rule on or off, for everyone or for one user URI',
        params: nameParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['enabled'],
          properties: {
            enabled: { type: 'boolean' },
            user: { type: 'string', pattern: '^(sips?|tel):[^\\s<>]+$', maxLength: 512 },
          },
        },
        response: { 200: anyObject, ...errors },
      },
    },
    async (req) => {
      const name = (req.params as { name: string }).name;
      const { enabled, user } = req.body as { enabled: boolean; user?: string };
      if (!ctx.parley.routing.chain.ruleNames.includes(name)) throw ApiError.notFound('rule', name);
      ctx.rules.set(name, enabled, user);
      ctx.log.info({ rule: name, enabled, user }, 'rule switched through the API');
      return describe().find((r) => r.name === name)!;
    },
  );
}

// The control API across the cluster: POST /admin/drain (any node, alone or
// not), GET /cluster/nodes, the lists of calls and rooms merged from every live
// node (each item names its node), and actions on a call or room that another
// node holds forwarded to that node's API with the same token. A request that
// was forwarded carries X-Parley-Forwarded and is answered locally only, so
// nothing is forwarded twice. A browser session lives on the node that owns its
// room (POST /rooms/:name/webrtc is forwarded there); its id starts with that
// node's id (webrtc-session.ts sessionNode), so any node forwards the session's
// own requests (/webrtc/:sessionId…) there, not only the one that forwarded its
// POST (which alone knew, when it kept a map of them).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/api-server.ts';
import { anyArray, anyObject, errors } from '../api/routes/schemas.ts';
import type { ClusterNode } from './cluster-node.ts';
import type { PipeOffer } from './room-pipe.ts';
import { findConsultation } from '../call/consultation.ts';
import type { ReplacesId } from '../call/refer-request.ts';
import { consultationAnswer } from './remote-consultation.ts';
import { FORWARDED, PEER_TIMEOUT_MS } from './peer-request.ts';
import { sessionNode } from '../webrtc/webrtc-session.ts';

const MERGED_LISTS = new Set(['/calls', '/rooms']);

export function clusterRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post(
    '/admin/drain',
    { schema: { summary: 'Drain this node as on SIGTERM: no new calls or rooms (503), its calls and rooms go on until they end or shutdown.drainTimeoutMs', response: { 202: anyObject, ...errors } } },
    async (_req, reply) => {
      ctx.parley.requestDrain();
      return reply.code(202).send({ draining: true, node: ctx.parley.cluster?.nodeId ?? null });
    },
  );
  const node = ctx.parley.cluster;
  if (!node) return;

  app.get('/cluster/nodes', { schema: { summary: 'The live nodes of the cluster: state, load, addresses', response: { 200: anyArray, ...errors } } }, async () => [
    ...(await node.registry.nodes()).values(),
  ]);

  // Asked by a peer before it reports this node lost (its entry expired: cut off from Redis?).
  app.get('/cluster/alive', { schema: { summary: 'Between nodes: this node answers (node id and run id), also while it is cut off from Redis', response: { 200: anyObject, ...errors } } }, async () => ({
    node: node.nodeId,
    run: node.run,
    redis: node.link.isUp,
  }));

  // The owner's side of a pipe from a caller answered on another node (room-pipe.ts).
  app.post('/cluster/pipes', { schema: { summary: 'Between nodes: pipe a caller answered on another node into a room this node owns', body: anyObject, response: { 200: anyObject, 409: anyObject, ...errors } } }, async (req, reply) => {
    const offer = req.body as PipeOffer;
    if (!node.pipes || typeof offer.room !== 'string' || typeof offer.id !== 'string' || typeof offer.ip !== 'string' || typeof offer.port !== 'number' || typeof offer.producerId !== 'string' || typeof offer.rtpParameters !== 'object') {
      return reply.code(400).send({ error: 'bad_request', message: 'body: a pipe offer (room, id, ip, port, producerId, rtpParameters)' });
    }
    try {
      return await node.pipes.accept(offer);
    } catch (err) {
      ctx.log.warn({ err, room: offer.room }, 'pipe refused');
      return reply.code(409).send({ error: 'pipe_refused', message: (err as Error).message });
    }
  });
  app.post(
    '/cluster/pipes/:id/ended',
    { schema: { summary: 'Between nodes: the room owner ended a pipe of a caller on this node (room closed, kicked): its join ends', params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 512 } } }, response: { 200: anyObject, ...errors } } },
    async (req, reply) => {
      const end = node.outgoingPipes.get((req.params as { id: string }).id)?.end;
      if (!end) return reply.code(404).send({ error: 'not_found', message: 'no such pipe on this node' });
      const reason = (req.body as { reason?: unknown } | undefined)?.reason;
      end(typeof reason === 'string' ? reason.slice(0, 100) : 'ended by the room owner');
      return { ok: true };
    },
  );
  app.post(
    '/cluster/pipes/:id/hold',
    {
      schema: {
        summary: 'Between nodes: a piped caller went on hold or came off it (direction null): out of the room\'s mix meanwhile',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 512 } } },
        body: { type: 'object', required: ['direction'], properties: { direction: { enum: ['sendonly', 'inactive', null] } } },
        response: { 200: anyObject, ...errors },
      },
    },
    async (req, reply) => {
      const { direction } = req.body as { direction: 'sendonly' | 'inactive' | null };
      if (!node.pipes?.setHeld((req.params as { id: string }).id, direction)) return reply.code(404).send({ error: 'not_found', message: 'no such pipe on this node' });
      return { ok: true };
    },
  );
  app.post(
    '/cluster/consultation',
    {
      schema: {
        summary: 'Between nodes: an attended transfer on another node names a dialog of a call here (its Replaces): the other party of that dialog, to send the transfer to',
        body: { type: 'object', required: ['callId', 'toTag', 'fromTag'], properties: { callId: { type: 'string', minLength: 1, maxLength: 512 }, toTag: { type: 'string', maxLength: 256 }, fromTag: { type: 'string', maxLength: 256 } } },
        response: { 200: anyObject, 403: anyObject, ...errors },
      },
    },
    async (req, reply) => {
      const { status, body } = consultationAnswer(await findConsultation(() => ctx.parley.calls?.running ?? [], req.body as ReplacesId, null));
      return reply.code(status).send(body);
    },
  );
  app.delete('/cluster/pipes/:id', { schema: { summary: 'Between nodes: the piped caller left', params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 512 } } }, response: { 200: anyObject, ...errors } } }, async (req) => ({
    ok: (await node.pipes?.close((req.params as { id: string }).id)) ?? false,
  }));

  // Lists: this node's items plus every other live node's.
  app.addHook('onSend', async (req, reply, payload) => {
    const path = req.routeOptions.url ?? '';
    if (req.method !== 'GET' || !MERGED_LISTS.has(path) || req.headers[FORWARDED] || reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    const mine = (JSON.parse(payload) as Record<string, unknown>[]).map((x) => ({ ...x, node: node.nodeId }));
    const others = await peers(node).catch(() => []);
    const lists = await Promise.all(
      others.map(async (p) => {
        try {
          const res = await forward(p.api, req, path, ctx);
          if (res.status !== 200) return [];
          return ((await res.json()) as Record<string, unknown>[]).map((x) => ({ ...x, node: p.id }));
        } catch (err) {
          ctx.log.warn({ err, node: p.id }, 'a node did not answer a cluster list');
          return [];
        }
      }),
    );
    return JSON.stringify([...mine, ...lists.flat()]);
  });

  // Actions on a call or room held by another node: forwarded there.
  app.addHook('preHandler', async (req, reply) => {
    if (req.headers[FORWARDED]) return;
    const route = req.routeOptions.url ?? '';
    const params = req.params as { id?: string; name?: string; sessionId?: string };
    let owner: string | null = null;
    if (route.startsWith('/webrtc/:sessionId') && params.sessionId) {
      if (ctx.parley.webrtc?.get(params.sessionId)) return;
      owner = sessionNode(params.sessionId);
    } else if (route.startsWith('/calls/:id') && params.id) {
      if (ctx.parley.calls?.active.has(params.id)) return;
      owner = await node.registry.callOwner(params.id).catch(() => null);
    } else if ((route.startsWith('/rooms/:name') && params.name) || (route === '/rooms' && req.method === 'POST')) {
      // POST /rooms names its room in the body: opened where it is owned, if it is.
      const name = params.name ?? (req.body as { name?: unknown } | undefined)?.name;
      if (typeof name !== 'string' || ctx.parley.conferences?.names.includes(name)) return;
      owner = (await node.leases.owner(name).catch(() => null))?.owner ?? null;
    } else return;
    if (!owner || owner === node.nodeId) return;
    // A node cut off from Redis (its entry expired, its API still answering) still gets its actions.
    const entry = (await node.registry.entry(owner).catch(() => null)) ?? (node.silentButAlive.includes(owner) ? await node.registry.address(owner).catch(() => null) : null);
    if (!entry) return;
    const res = await forward(entry.api, req, req.url, ctx);
    return relay(reply, res, await res.text());
  });
}

/** The other live nodes, and those only cut off from Redis (their API answered the reaper's probe). */
async function peers(node: ClusterNode): Promise<Array<{ id: string; api: string }>> {
  const all = await node.registry.nodes();
  const out = [...all.values()].filter((e) => e.id !== node.nodeId).map((e) => ({ id: e.id, api: e.api }));
  for (const id of node.silentButAlive) {
    if (all.has(id)) continue;
    const addr = await node.registry.address(id).catch(() => null);
    if (addr) out.push({ id, api: addr.api });
  }
  return out;
}

/**
 * The credentials a forwarded request carries: the caller's bearer token, or for a
 * web console session (a cookie) the token that session acts under (every node has the same tokens).
 */
function authorizationFor(req: FastifyRequest, ctx: ApiContext): string {
  if (req.headers.authorization) return req.headers.authorization;
  const api = ctx.parley.config.api;
  const name = (req as FastifyRequest & { tokenName?: string }).tokenName;
  const token = name === 'default' ? api.token : api.tokens.find((t) => t.name === name)?.token;
  return token ? `Bearer ${token}` : '';
}

function forward(api: string, req: FastifyRequest, path: string, ctx: ApiContext): Promise<Response> {
  const hasBody = req.method !== 'GET' && req.method !== 'DELETE' && req.body !== undefined;
  return fetch(api + path, {
    method: req.method,
    headers: {
      authorization: authorizationFor(req, ctx),
      [FORWARDED]: '1',
      ...(hasBody ? { 'content-type': 'application/json' } : {}),
    },
    body: hasBody ? JSON.stringify(req.body) : undefined,
    signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
  });
}

function relay(reply: FastifyReply, res: Response, body: string): FastifyReply {
  return reply.code(res.status).header('content-type', res.headers.get('content-type') ?? 'application/json').send(body);
}

// Conference rooms and their rosters.
import type { FastifyInstance } from 'fastify';
import type { Conference } from '../../call/conference/conference-manager.ts';
import { ApiError } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import { anyArray, anyObject, errors, nameParam } from './schemas.ts';

function describeRoom(c: Conference): Record<string, unknown> {
  return {
    name: c.name,
    room: c.room.id,
    legs: c.room.size,
    roster: c.roster.visible.map((e) => ({
      leg: e.legId,
      uri: e.uri,
      displayName: e.displayName,
      identity: e.identity,
      callId: e.callId,
      joinedAt: e.joinedAt.toISOString(),
      muted: e.muted,
      talking: e.talking,
    })),
  };
}

export function roomRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const all = async (): Promise<Conference[]> => {
    const confs = ctx.parley.conferences;
    if (!confs) return [];
    const out: Conference[] = [];
    for (const name of confs.names) {
      const c = await confs.get(name).catch(() => undefined);
      if (c && !c.room.isClosed) out.push(c);
    }
    return out;
  };

  app.get('/rooms', { schema: { summary: 'Conference rooms with their rosters', response: { 200: anyArray, ...errors } } }, async () =>
    (await all()).map(describeRoom),
  );

  app.get('/rooms/:name', { schema: { summary: 'One conference room and its roster', params: nameParam, response: { 200: anyObject, ...errors } } }, async (req) => {
    const name = (req.params as { name: string }).name;
    const c = (await all()).find((x) => x.name === name);
    if (!c) throw ApiError.notFound('room', name);
    return describeRoom(c);
  });
}

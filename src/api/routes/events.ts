// The event stream: every hub event as one JSON text message per WebSocket, and
// the recent ones over plain HTTP. A client that (re)connects with `since=<seq>`
// first gets the kept events after it, then the live ones, with no gap and no
// duplicate (both happen in one turn of the event loop); the hello message says
// which events are still kept, so a client can tell when it missed some.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-server.ts';
import type { ApiEvent } from '../event-hub.ts';

/**
 * Bytes a client may leave unread (past its replay) before it is cut off. ws buffers whatever the socket
 * cannot take, without limit: a client that stops reading (stuck, or on purpose) grew
 * Parley's memory by every event published after. Cut off, it reconnects with
 * `since=` and gets what it missed from the backlog (the hello says what is kept).
 */
export const MAX_UNREAD_BYTES = 1024 * 1024;

// Query strings are not coerced (the API's ajv runs with coerceTypes off): numbers arrive as digit strings.
const since = { type: 'string', pattern: '^[0-9]{1,15}$', description: 'replay the kept events after this seq first' } as const;

export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/events',
    {
      websocket: true,
      schema: {
        summary: 'WebSocket: call.created, call.ended, leg.joined, leg.left, talking, dtmf, recording.started, recording.state, recording.saved, recording.stored, recording.failed, rule.matched (token in the Authorization header or ?token=, or the console\'s session cookie)',
        querystring: { type: 'object', properties: { token: { type: 'string' }, since } },
      },
    },
    (socket, req) => {
      // The replay (at most api.eventBacklog events) goes out in one turn, before the kernel
      // can take any of it: the limit counts from what it left buffered.
      let limit = MAX_UNREAD_BYTES;
      const send = (e: ApiEvent): void => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > limit) {
          ctx.log.warn({ ip: req.ip, unread: socket.bufferedAmount, seq: e.seq }, 'event stream client stopped reading: disconnected');
          ctx.hub.off('event', send);
          socket.terminate();
          return;
        }
        socket.send(JSON.stringify(e));
      };
      const raw = (req.query as { since?: string }).since;
      const after = raw === undefined ? undefined : Number(raw);
      socket.send(JSON.stringify({ type: 'hello', at: new Date().toISOString(), lastSeq: ctx.hub.lastSeq, oldestSeq: ctx.hub.oldestSeq }));
      if (after !== undefined) for (const e of ctx.hub.since(after)) socket.send(JSON.stringify(e));
      limit = socket.bufferedAmount + MAX_UNREAD_BYTES;
      ctx.hub.on('event', send);
      socket.on('close', () => ctx.hub.off('event', send));
      socket.on('error', () => ctx.hub.off('event', send));
    },
  );

  app.get(
    '/events/recent',
    {
      schema: {
        summary: 'The kept events after `since` (default: all kept), oldest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { since, limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$', description: 'at most this many (default 1000)' } },
        },
      },
    },
    async (req) => {
      const q = req.query as { since?: string; limit?: string };
      const events = ctx.hub.since(Number(q.since ?? 0), Number(q.limit ?? 1000));
      return { lastSeq: ctx.hub.lastSeq, oldestSeq: ctx.hub.oldestSeq, events };
    },
  );
}

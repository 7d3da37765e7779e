// The event stream: every hub event as one JSON text message per WebSocket, and
// the recent ones over plain HTTP. A client that (re)connects with `since=<seq>`
// first gets the kept events after it, then the live ones, with no gap and no
// duplicate (the replay's last slice and the start of the live events happen in one
// turn of the event loop); the hello message says which events are still kept, so a
// client can tell when it missed some (an event may also leave the backlog while a
// slow client is still reading its replay: its seq then jumps).
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-server.ts';
import { ApiError } from '../api-error.ts';
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

/**
 * Events one GET /events/recent returns at most: the answer is serialised in one turn of the
 * main thread (SIP, calls), and api.eventBacklog may keep up to 100000. A client pages on with
 * `since=` the last seq it got. A larger `limit` is refused (400 naming it), not cut short.
 */
export const MAX_RECENT = 1000;

/** Kept events replayed per slice: the next slice goes once this one is written out (one turn each). */
const REPLAY_SLICE = 256;

/** `replayStallMs`: a client that takes no slice of its replay for this long is cut off (api.requestTimeoutMs). */
export function eventRoutes(app: FastifyInstance, ctx: ApiContext, replayStallMs = 30_000): void {
  app.get(
    '/events',
    {
      websocket: true,
      schema: {
        summary: 'WebSocket: call.created, call.ended, leg.joined, leg.left, leg.held, leg.resumed, talking, dtmf, recording.started, recording.state, recording.saved, recording.stored, recording.failed, rule.matched (token in the Authorization header or ?token=, or the console\'s session cookie)',
        querystring: { type: 'object', properties: { token: { type: 'string' }, since } },
      },
    },
    (socket, req) => {
      // Counted from what the replay left buffered when the live events begin.
      let limit = MAX_UNREAD_BYTES;
      let stall: NodeJS.Timeout | null = null;
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
      const stop = (): void => {
        ctx.hub.off('event', send);
        if (stall) clearTimeout(stall);
        stall = null;
      };
      socket.on('close', stop);
      socket.on('error', stop);
      // Opened with the console's cookie: it ends when that session does (sign-out, expiry).
      const cs = req.consoleSession;
      if (cs && ctx.console) {
        const off = ctx.console.sessions.onEnd(cs, () => socket.close(1008, 'console session ended'));
        socket.on('close', off);
      }
      const live = (): void => {
        limit = socket.bufferedAmount + MAX_UNREAD_BYTES;
        ctx.hub.on('event', send);
      };
      const raw = (req.query as { since?: string }).since;
      socket.send(JSON.stringify({ type: 'hello', at: new Date().toISOString(), lastSeq: ctx.hub.lastSeq, oldestSeq: ctx.hub.oldestSeq }));
      if (raw === undefined) {
        live();
        return;
      }
      // The replay goes a slice at a time, each once the last is written out: all of
      // api.eventBacklog in one turn held the main thread (SIP, calls) for as long as it
      // took to serialise, and buffered all of it for a client that never read it.
      let cursor = Number(raw);
      const pump = (): void => {
        if (stall) clearTimeout(stall);
        stall = null;
        if (socket.readyState !== socket.OPEN) return;
        const slice = ctx.hub.since(cursor, REPLAY_SLICE);
        if (slice.length < REPLAY_SLICE) {
          for (const e of slice) socket.send(JSON.stringify(e));
          // Caught up: the live events follow in this same turn, with no gap and no duplicate.
          live();
          return;
        }
        const last = slice.length - 1;
        slice.forEach((e, i) => socket.send(JSON.stringify(e), i === last ? (err?: Error) => {
            if (!err) setImmediate(pump);
          } : undefined));
        cursor = slice[last]!.seq;
        stall = setTimeout(() => {
          ctx.log.warn({ ip: req.ip, unread: socket.bufferedAmount, seq: cursor }, 'event stream client did not read its replay: disconnected');
          socket.terminate();
        }, replayStallMs);
      };
      pump();
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
          properties: { since, limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$', description: `at most this many, 1 to ${MAX_RECENT} (default ${MAX_RECENT}): page on with since=` } },
        },
      },
    },
    async (req) => {
      const q = req.query as { since?: string; limit?: string };
      const limit = Number(q.limit ?? MAX_RECENT);
      if (limit > MAX_RECENT) {
        throw new ApiError(400, 'bad_request', `querystring.limit: at most ${MAX_RECENT} events per request (page on with since=<the last seq>)`, 'querystring.limit');
      }
      const events = ctx.hub.since(Number(q.since ?? 0), limit);
      return { lastSeq: ctx.hub.lastSeq, oldestSeq: ctx.hub.oldestSeq, events };
    },
  );
}

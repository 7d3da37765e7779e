// The event stream: every hub event as one JSON text message per WebSocket.
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-server.ts';
import type { ApiEvent } from '../event-hub.ts';

export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get(
    '/events',
    {
      websocket: true,
      schema: {
        summary: 'WebSocket: call.created, call.ended, leg.joined, leg.left, talking, dtmf, recording.saved, rule.matched (token in the Authorization header or ?token=)',
        querystring: { type: 'object', properties: { token: { type: 'string' } } },
      },
    },
    (socket) => {
      const send = (e: ApiEvent): void => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(e));
      };
      ctx.hub.on('event', send);
      socket.on('close', () => ctx.hub.off('event', send));
      socket.on('error', () => ctx.hub.off('event', send));
      socket.send(JSON.stringify({ type: 'hello', at: new Date().toISOString() }));
    },
  );
}

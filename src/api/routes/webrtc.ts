// Browsers in conference rooms: what mediasoup-client needs, one session per
// browser (src/webrtc/). Same bearer auth as every route; a session id is 128
// random bits and a session can do only what its role allows.
import type { FastifyInstance } from 'fastify';
import type { types as ms } from 'mediasoup';
import { MediaClosedError } from '../../media-plane/media-errors.ts';
import { WebRtcSessionError, WEBRTC_ROLES, type WebRtcRole } from '../../webrtc/webrtc-roles.ts';
import type { WebRtcSession } from '../../webrtc/webrtc-session.ts';
import type { WebRtcSessions } from '../../webrtc/webrtc-sessions.ts';
import { ApiError, errorSchema } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import { anyObject, errors, okSchema } from './schemas.ts';

const roomParam = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;
const sessionParam = {
  type: 'object',
  required: ['sessionId'],
  // In a cluster `<nodeId>~<random>` (nodeId up to 64 characters, the random part 22).
  properties: { sessionId: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;
const sipUri = { type: 'string', pattern: '^sips?:[^\\s<>]+$', maxLength: 512 } as const;
const allErrors = { ...errors, 403: errorSchema, 409: errorSchema, 429: errorSchema, 503: errorSchema } as const;

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['role'],
  properties: {
    role: { type: 'string', enum: WEBRTC_ROLES },
    targetLegId: { type: 'string', minLength: 1, maxLength: 256 },
    identity: { type: 'string', enum: ['normal', 'generated', 'impersonate'] },
    uri: sipUri,
    displayName: { type: 'string', maxLength: 128 },
    as: {
      type: 'object',
      additionalProperties: false,
      required: ['uri'],
      properties: { uri: sipUri, displayName: { type: 'string', maxLength: 128 } },
    },
  },
} as const;

const transportSchema = {
  type: 'object',
  required: ['id', 'iceParameters', 'iceCandidates', 'dtlsParameters'],
  properties: { id: { type: 'string' }, iceParameters: anyObject, iceCandidates: { type: 'array', items: anyObject }, dtlsParameters: anyObject },
} as const;

const createAnswer = {
  type: 'object',
  required: ['sessionId', 'role', 'room', 'legId', 'routerRtpCapabilities', 'sendTransport', 'recvTransport'],
  properties: {
    sessionId: { type: 'string' },
    role: { type: 'string' },
    room: { type: 'string' },
    legId: { type: 'string' },
    targetLegId: { type: 'string', nullable: true },
    routerRtpCapabilities: anyObject,
    sendTransport: { ...transportSchema, nullable: true },
    recvTransport: transportSchema,
  },
} as const;

export function webrtcRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const sessions = (): WebRtcSessions => {
    const s = ctx.parley.webrtc;
    if (!s) throw new ApiError(503, 'unavailable', 'browsers are not running');
    return s;
  };
  const session = (id: string): WebRtcSession => {
    const s = sessions().get(id);
    if (!s || s.isClosed) throw ApiError.notFound('session', id);
    return s;
  };
  /** WebRtcSessionError (and a room closing meanwhile) → the API's error answer. */
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WebRtcSessionError) throw new ApiError(err.status, err.code, err.message, err.field);
      // The room (or its hub) closed under the request: the session is gone with it.
      if (err instanceof MediaClosedError) throw new ApiError(404, 'not_found', err.message);
      throw err;
    }
  };

  app.post(
    '/rooms/:name/webrtc',
    {
      schema: {
        summary: 'A browser joins a conference room (participant, barge, whisper to one leg, or listen): what mediasoup-client needs',
        params: roomParam,
        body: createBody,
        response: { 201: createAnswer, ...allErrors },
      },
    },
    async (req, reply) => {
      const name = (req.params as { name: string }).name;
      const b = req.body as { role: WebRtcRole; targetLegId?: string; identity?: 'normal' | 'generated' | 'impersonate'; uri?: string; displayName?: string; as?: { uri: string; displayName?: string } };
      // media.webrtc.maxSessionsPerToken counts per token (its name; the console's sign-in carries its token's).
      const s = await run(() => sessions().create({ room: name, ...b, owner: req.tokenName }));
      // Opened by the console (listen, whisper, barge): it ends with the console session (sign-out, expiry).
      const cs = req.consoleSession;
      if (cs && ctx.console) s.once('close', ctx.console.sessions.onEnd(cs, () => s.close('signed-out')));
      return reply.code(201).send({
        sessionId: s.id,
        role: s.role,
        room: s.roomName,
        legId: s.legId,
        targetLegId: s.targetLegId,
        routerRtpCapabilities: s.routerRtpCapabilities,
        sendTransport: s.transportParameters.send,
        recvTransport: s.transportParameters.recv,
      });
    },
  );

  app.get(
    '/rooms/:name/webrtc',
    { schema: { summary: 'The browser sessions of a room', params: roomParam, response: { 200: { type: 'array', items: anyObject }, ...allErrors } } },
    async (req) => {
      const name = (req.params as { name: string }).name;
      const all = sessions();
      const conf = await ctx.parley.conferences?.get(name).catch(() => undefined);
      if (!conf || conf.room.isClosed) throw ApiError.notFound('room', name);
      return all.list(name).map((s) => s.describe());
    },
  );

  app.get(
    '/webrtc/:sessionId',
    { schema: { summary: 'One browser session: role, room, leg, ICE and DTLS states', params: sessionParam, response: { 200: anyObject, ...allErrors } } },
    async (req) => session((req.params as { sessionId: string }).sessionId).describe(),
  );

  app.post(
    '/webrtc/:sessionId/connect',
    {
      schema: {
        summary: "A browser transport's DTLS parameters (mediasoup-client's 'connect' event, once per transport)",
        params: sessionParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['transportId', 'dtlsParameters'],
          properties: {
            transportId: { type: 'string', minLength: 1, maxLength: 64 },
            dtlsParameters: {
              type: 'object',
              required: ['fingerprints'],
              properties: { role: { type: 'string', enum: ['auto', 'client', 'server'] }, fingerprints: { type: 'array', minItems: 1, maxItems: 8, items: anyObject } },
            },
          },
        },
        response: { 200: okSchema, ...allErrors },
      },
    },
    async (req) => {
      const s = session((req.params as { sessionId: string }).sessionId);
      const b = req.body as { transportId: string; dtlsParameters: ms.DtlsParameters };
      await run(() => s.connect(b.transportId, b.dtlsParameters));
      return { ok: true };
    },
  );

  app.post(
    '/webrtc/:sessionId/produce',
    {
      schema: {
        summary: "The browser's microphone (mediasoup-client's 'produce' event); refused (403) for a listen session",
        params: sessionParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['kind', 'rtpParameters'],
          properties: { kind: { type: 'string', enum: ['audio'] }, rtpParameters: { type: 'object', required: ['codecs'], properties: { codecs: { type: 'array', minItems: 1, maxItems: 16, items: anyObject } } }, appData: anyObject },
        },
        response: { 201: { type: 'object', required: ['producerId'], properties: { producerId: { type: 'string' } } }, ...allErrors },
      },
    },
    async (req, reply) => {
      const s = session((req.params as { sessionId: string }).sessionId);
      const b = req.body as { kind: string; rtpParameters: ms.RtpParameters };
      const producerId = await run(() => s.produce(b.kind, b.rtpParameters));
      return reply.code(201).send({ producerId });
    },
  );

  app.post(
    '/webrtc/:sessionId/consume',
    {
      schema: {
        summary: "What the browser hears (a participant: its mix-minus, after produce; listen and whisper: the room's mix)",
        params: sessionParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['rtpCapabilities'],
          properties: { rtpCapabilities: { type: 'object', required: ['codecs'], properties: { codecs: { type: 'array', maxItems: 64, items: anyObject } } } },
        },
        response: {
          201: {
            type: 'object',
            required: ['id', 'producerId', 'kind', 'rtpParameters'],
            properties: { id: { type: 'string' }, producerId: { type: 'string' }, kind: { type: 'string' }, rtpParameters: anyObject },
          },
          ...allErrors,
        },
      },
    },
    async (req, reply) => {
      const s = session((req.params as { sessionId: string }).sessionId);
      const c = await run(() => s.consume((req.body as { rtpCapabilities: ms.RtpCapabilities }).rtpCapabilities));
      return reply.code(201).send(c);
    },
  );

  app.delete(
    '/webrtc/:sessionId',
    { schema: { summary: 'The browser leaves: its session closes (a participant leaves the roster)', params: sessionParam, response: { 200: okSchema, ...allErrors } } },
    async (req) => {
      session((req.params as { sessionId: string }).sessionId).close('closed');
      return { ok: true };
    },
  );
}

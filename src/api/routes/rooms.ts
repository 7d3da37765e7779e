// Conference rooms and their rosters.
import type { FastifyInstance } from 'fastify';
import type { Conference } from '../../call/conference/conference-manager.ts';
import { DialOutError, roomHost } from '../../call/conference/dial-out.ts';
import { RosterConflictError } from '../../call/conference/roster.ts';
import { toLibrarySpec } from '../../call/play-spec.ts';
import { promptRate } from '../../call/prompt-rate.ts';
import type { MediaLeg } from '../../media-plane/media-leg.ts';
import type { MediaRoom } from '../../media-plane/media-room.ts';
import type { Player } from '../../playback/player.ts';
import { ApiError, errorSchema } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import { anyArray, anyObject, errors, nameParam, okSchema, playSpecProperties } from './schemas.ts';
import { MediaClosedError } from '../../media-plane/media-errors.ts';

const roomName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const;
const legParams = {
  type: 'object',
  required: ['name', 'leg'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, leg: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;
const sipUri = { type: 'string', pattern: '^sips?:[^\\s<>]+$', maxLength: 512 } as const;

const dialBody = {
  type: 'object',
  additionalProperties: false,
  required: ['to'],
  properties: {
    to: sipUri,
    identity: { type: 'string', enum: ['normal', 'generated', 'impersonate'] },
    as: {
      type: 'object',
      additionalProperties: false,
      required: ['uri'],
      properties: { uri: sipUri, displayName: { type: 'string', maxLength: 128 } },
    },
    from: sipUri,
    ringTimeout: { type: 'integer', minimum: 1, maximum: 300 },
    transfers: { type: 'string', enum: ['members', 'refuse'], description: "members: the leg's REFER (its transfer) dials its target into the room in its place; refuse (the default): 403" },
    muted: { type: 'boolean' },
  },
} as const;

/** Players the API started, per room, so that `play/stop` can end them. */
const roomPlayers = new WeakMap<MediaRoom, Set<Player>>();

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
      // On hold (its re-INVITE offered sendonly or inactive): out of the mix until it resumes.
      held: e.held ?? null,
      // In a cluster: a caller answered on that node and piped into this room (null: on this node).
      remoteNode: e.remoteNode ?? null,
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

  const find = async (name: string): Promise<Conference> => {
    const c = (await all()).find((x) => x.name === name);
    if (!c) throw ApiError.notFound('room', name);
    return c;
  };

  const roomLeg = async (name: string, leg: string): Promise<MediaLeg> => {
    const c = await find(name);
    const l = c.room.leg(leg);
    if (!l || l.isClosed || !c.roster.get(leg)) {
      // On the roster but no SIP leg here: a browser, or a caller on another node piped in.
      const other = c.roster.get(leg) ? (ctx.parley.webrtc?.byLeg(name, leg) ? 'a browser' : (await ctx.parley.cluster?.pipes?.byLeg(name, leg)) ? 'a caller on another node' : null) : null;
      if (other) throw new ApiError(409, 'conflict', `leg '${leg}' is ${other}: it can be muted, unmuted or kicked, not deafened, coached or played to`);
      throw ApiError.notFound('leg', leg);
    }
    return l;
  };

  app.post(
    '/rooms',
    {
      schema: {
        summary: 'Open a conference room (it closes when its last leg leaves, or on DELETE)',
        body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: roomName } },
        response: { 201: anyObject, ...errors },
      },
    },
    async (req, reply) => {
      const confs = ctx.parley.conferences;
      if (!confs) throw new ApiError(503, 'unavailable', 'conferences are not running');
      const c = await confs.openRoom((req.body as { name: string }).name);
      return reply.code(201).send(describeRoom(c));
    },
  );

  app.delete('/rooms/:name', { schema: { summary: 'Close a room: every leg in it leaves', params: nameParam, response: { 200: okSchema, ...errors } } }, async (req) => {
    const c = await find((req.params as { name: string }).name);
    c.room.close();
    return { ok: true };
  });

  app.post(
    '/rooms/:name/dial',
    {
      schema: {
        summary: 'Dial a leg out into the room (opened if needed); answers once the leg answered',
        params: { type: 'object', required: ['name'], properties: { name: roomName } },
        body: dialBody,
        response: { 201: anyObject, ...errors, 409: anyObject, 502: anyObject },
      },
    },
    async (req, reply) => {
      const p = ctx.parley;
      const srf = p.srf;
      if (!p.conferences || !srf) throw new ApiError(503, 'unavailable', 'conferences are not running');
      const name = (req.params as { name: string }).name;
      const b = req.body as { to: string; identity?: 'normal' | 'generated' | 'impersonate'; as?: { uri: string; displayName?: string }; from?: string; ringTimeout?: number; muted?: boolean; transfers?: 'members' | 'refuse' };
      if (b.identity === 'impersonate' && !b.as) throw new ApiError(400, 'bad_request', 'body.as: required when identity is impersonate', 'body.as');
      try {
        const r = await p.conferences.dialOut(
          name,
          { srf, loopMarker: p.routing.marker, outboundProxy: p.config.sip.outboundProxy, localHost: roomHost(p.sipHostports, p.config.sip.externalIp), sipT1: p.config.sip.timers.t1, earlyLegs: p.earlyLegs ?? undefined },
          { to: b.to, identity: b.identity ?? 'normal', as: b.as, from: b.from, ringTimeout: b.ringTimeout ?? 30, muted: b.muted, transfers: b.transfers },
        );
        return reply.code(201).send({ ok: true, room: name, leg: r.legId, callId: r.callId });
      } catch (err) {
        if (err instanceof RosterConflictError) throw new ApiError(409, 'conflict', err.message);
        if (err instanceof DialOutError) return reply.code(502).send({ error: 'dial_failed', message: `${err.status} ${err.message}`, status: err.status });
        // The room closed (DELETE) between its lookup and the leg's making: it is gone, not an error of Parley's.
        if (err instanceof MediaClosedError) throw ApiError.notFound('room', name);
        throw err;
      }
    },
  );

  for (const action of ['mute', 'unmute'] as const) {
    app.post(
      `/rooms/:name/legs/:leg/${action}`,
      { schema: { summary: `${action === 'mute' ? 'Mute' : 'Unmute'} a leg of the room`, params: legParams, response: { 200: okSchema, ...errors } } },
      async (req) => {
        const { name, leg } = req.params as { name: string; leg: string };
        const c = await find(name);
        const l = c.room.leg(leg);
        const browser = ctx.parley.webrtc?.byLeg(name, leg);
        // A caller on another node piped into this room: muted at its hub input.
        const pipe = (await ctx.parley.cluster?.pipes?.byLeg(name, leg)) ?? null;
        let sipLeg = null;
        if (browser && c.roster.get(leg)) browser.setMuted(action === 'mute');
        else if (pipe && ctx.parley.cluster?.pipes?.setMuted(pipe, action === 'mute')) return { ok: true };
        else if (!l || l.isClosed || !c.roster.get(leg)) throw ApiError.notFound('leg', leg);
        else sipLeg = l;
        c.roster.setMuted(leg, action === 'mute');
        // A leg holding the call stays out of the mix until it resumes, unmuted or not.
        sipLeg?.mute(c.roster.silenced(leg));
        return { ok: true };
      },
    );
  }

  for (const action of ['deafen', 'undeafen'] as const) {
    app.post(
      `/rooms/:name/legs/:leg/${action}`,
      { schema: { summary: `${action === 'deafen' ? 'Deafen' : 'Undeafen'} a leg of the room (it hears nothing)`, params: legParams, response: { 200: okSchema, ...errors, 409: errorSchema } } },
      async (req) => {
        const { name, leg } = req.params as { name: string; leg: string };
        const l = await roomLeg(name, leg);
        l.deafen(action === 'deafen');
        return { ok: true };
      },
    );
  }

  app.post(
    '/rooms/:name/legs/:leg/coach',
    {
      schema: {
        summary: 'Coach: only the listed legs hear this one (null: everyone again)',
        params: legParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['listeners'],
          properties: { listeners: { type: 'array', nullable: true, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } } },
        },
        response: { 200: okSchema, ...errors, 409: errorSchema },
      },
    },
    async (req) => {
      const { name, leg } = req.params as { name: string; leg: string };
      const l = await roomLeg(name, leg);
      l.speakTo((req.body as { listeners: string[] | null }).listeners);
      return { ok: true };
    },
  );

  app.post(
    '/rooms/:name/play',
    {
      schema: {
        summary: 'Play a prompt, text or tone to the whole room, or whisper it to one leg',
        params: nameParam,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { ...playSpecProperties, leg: { type: 'string', minLength: 1, maxLength: 256 } },
          oneOf: [{ required: ['prompt'] }, { required: ['text'] }, { required: ['tone'] }],
        },
        response: { 202: okSchema, ...errors, 409: errorSchema },
      },
    },
    async (req, reply) => {
      const name = (req.params as { name: string }).name;
      const b = req.body as { prompt?: string; text?: string; tone?: string; repeat?: number; leg?: string };
      const c = await find(name);
      const target = b.leg ? await roomLeg(name, b.leg) : null;
      const prompts = ctx.parley.prompts;
      if (!prompts) throw new ApiError(503, 'unavailable', 'prompts are not running');
      const player = prompts.createPlayer(toLibrarySpec(b), { sampleRate: promptRate(c.room, ctx.parley.config.media.mixer), repeat: b.repeat ?? 1, log: ctx.log });
      if (target) target.play(player);
      else c.room.play(player);
      const mine = roomPlayers.get(c.room) ?? new Set<Player>();
      roomPlayers.set(c.room, mine);
      mine.add(player);
      const forget = (): boolean => mine.delete(player);
      player.done.then(forget, forget);
      return reply.code(202).send({ ok: true });
    },
  );

  app.post('/rooms/:name/play/stop', { schema: { summary: 'Stop every prompt the API started in this room', params: nameParam, response: { 200: anyObject, ...errors } } }, async (req) => {
    const c = await find((req.params as { name: string }).name);
    const mine = [...(roomPlayers.get(c.room) ?? [])];
    for (const p of mine) p.stop();
    return { ok: true, stopped: mine.length };
  });

  app.delete('/rooms/:name/legs/:leg', { schema: { summary: 'Kick a leg out of the room', params: legParams, response: { 200: okSchema, ...errors } } }, async (req) => {
    const { name, leg } = req.params as { name: string; leg: string };
    const c = await find(name);
    const browser = ctx.parley.webrtc?.byLeg(name, leg);
    if (browser && c.roster.get(leg)) {
      browser.close('kicked');
      return { ok: true };
    }
    // A caller on another node piped into this room: its pipe ends and its node is told.
    const pipes = ctx.parley.cluster?.pipes;
    const pipe = pipes ? await pipes.byLeg(name, leg) : null;
    if (pipes && pipe) {
      pipes.end(pipe, 'kicked');
      return { ok: true };
    }
    const l = c.room.leg(leg);
    if (!l || l.isClosed || !c.roster.get(leg)) throw ApiError.notFound('leg', leg);
    l.close();
    return { ok: true };
  });

  app.get('/rooms/:name', { schema: { summary: 'One conference room and its roster', params: nameParam, response: { 200: anyObject, ...errors } } }, async (req) => {
    const name = (req.params as { name: string }).name;
    const c = (await all()).find((x) => x.name === name);
    if (!c) throw ApiError.notFound('room', name);
    return describeRoom(c);
  });
}

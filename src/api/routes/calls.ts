// Calls in progress: list, inspect, hang up, play and stop prompts, send digits to a leg,
// mute and deafen a leg, transfer, and drive the call's recording.
import type { FastifyInstance } from 'fastify';
import type { ActiveCall } from '../../call/call-manager.ts';
import { toLibrarySpec } from '../../call/play-spec.ts';
import { promptRate } from '../../call/prompt-rate.ts';
import { CALLER_LEG, SipCall } from '../../call/sip-call.ts';
import { PromptError } from '../../playback/errors.ts';
import type { Player } from '../../playback/player.ts';
import type { PromptLibrary } from '../../playback/prompt-library.ts';
import { ApiError } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import { anyArray, anyObject, errors, idParam, okSchema, playSpecProperties } from './schemas.ts';

const legBody = {
  type: 'object',
  additionalProperties: false,
  properties: { leg: { type: 'string', minLength: 1, maxLength: 64, description: 'caller (default), callee, or another leg id of the call' } },
} as const;

const playBody = {
  type: 'object',
  additionalProperties: false,
  required: ['target'],
  properties: {
    ...playSpecProperties,
    target: { type: 'string', description: 'room, caller, callee or another leg id', minLength: 1, maxLength: 64 },
  },
  oneOf: [{ required: ['prompt'] }, { required: ['text'] }, { required: ['tone'] }],
} as const;

const dtmfBody = {
  type: 'object',
  additionalProperties: false,
  required: ['digits'],
  properties: {
    digits: { type: 'string', pattern: '^[0-9*#A-Da-d]{1,32}$', description: 'up to 32 of 0-9, *, #, A-D' },
    leg: legBody.properties.leg,
    durationMs: { type: 'integer', minimum: 40, maximum: 5000, description: 'each digit (100 ms when absent); 50 ms between digits' },
    inband: { type: 'boolean', description: 'DTMF tones in the audio even when the leg negotiated telephone-event (a far end that listens for tones only)' },
  },
} as const;

const transferBody = {
  type: 'object',
  additionalProperties: false,
  required: ['to'],
  properties: { to: { type: 'string', pattern: '^sips?:[^\\s<>]+$', maxLength: 512 } },
} as const;

type LegAction = 'mute' | 'unmute' | 'deafen' | 'undeafen';
type RecAction = 'start' | 'stop' | 'pause' | 'resume' | 'mask' | 'unmask';

/** Players the API started, per call, so that `play/stop` can end them. */
const apiPlayers = new WeakMap<object, Set<Player>>();

export function describeCall(a: ActiveCall): Record<string, unknown> {
  const c = a.call;
  const rec = c.activeRecording;
  return {
    id: c.callId,
    flow: a.flow,
    startedAt: a.startedAt.toISOString(),
    answered: c.answered,
    from: { uri: c.from.uri, displayName: c.from.displayName },
    originalTo: { uri: c.originalTo.uri, displayName: c.originalTo.displayName },
    requestUri: c.requestUri,
    room: c.room.id,
    legs: c.room.legIds.map((id) => {
      const p = c.room.leg(id)?.mixerParticipant;
      return { id, muted: p?.muted ?? false, deaf: p?.deaf ?? false, talking: p?.talking ?? false };
    }),
    recording: rec
      ? { id: rec.id, closed: rec.recorder.isClosed, paused: rec.recorder.isPaused, masked: rec.recorder.isMasked }
      : null,
  };
}

export function callRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const find = (id: string): ActiveCall => {
    const a = ctx.parley.calls?.active.get(id);
    if (!a || a.call.ended) throw ApiError.notFound('call', id);
    return a;
  };

  app.get('/calls', { schema: { summary: 'Calls in progress', response: { 200: anyArray, ...errors } } }, async () =>
    [...(ctx.parley.calls?.active.values() ?? [])].filter((a) => !a.call.ended).map(describeCall),
  );

  app.get('/calls/:id', { schema: { summary: 'One call: legs, flow, original To', params: idParam, response: { 200: anyObject, ...errors } } }, async (req) =>
    describeCall(find((req.params as { id: string }).id)),
  );

  app.delete('/calls/:id', { schema: { summary: 'Hang up the call', params: idParam, response: { 200: okSchema, ...errors } } }, async (req) => {
    const a = find((req.params as { id: string }).id);
    a.call.hangup();
    return { ok: true };
  });

  app.post(
    '/calls/:id/play',
    { schema: { summary: 'Play a prompt, text or tone to the room or one leg', params: idParam, body: playBody, response: { 202: anyObject, ...errors } } },
    async (req, reply) => {
      const { call } = find((req.params as { id: string }).id);
      // A SIPREC session is only recorded: nothing is played toward the recording client or into its recording.
      if (!(call instanceof SipCall)) throw new ApiError(409, 'conflict', 'nothing is played into a SIPREC recording session');
      const body = req.body as { prompt?: string; text?: string; tone?: string; repeat?: number; target: string };
      const target = body.target;
      const leg = target === 'room' ? null : call.room.leg(target);
      if (target !== 'room' && !leg) throw new ApiError(404, 'not_found', `call has no leg '${target}'`, 'body.target');
      const sampleRate = promptRate(call.room, call.deps.settings);
      if (body.prompt !== undefined) await checkPrompt(call.deps.prompts, body.prompt, sampleRate);
      const player = call.deps.prompts.createPlayer(toLibrarySpec(body), {
        sampleRate,
        repeat: body.repeat ?? 1,
        log: call.log,
      });
      if (leg) leg.play(player);
      else call.room.play(player);
      const mine = apiPlayers.get(call) ?? new Set<Player>();
      apiPlayers.set(call, mine);
      mine.add(player);
      player.done.then(
        (r) => {
          mine.delete(player);
          if (r.reason === 'error') call.log.warn({ err: r.error }, 'API prompt failed');
        },
        () => mine.delete(player),
      );
      return reply.code(202).send({ ok: true, target });
    },
  );

  app.post('/calls/:id/play/stop', { schema: { summary: 'Stop every prompt the API started on this call', params: idParam, response: { 200: anyObject, ...errors } } }, async (req) => {
    const { call } = find((req.params as { id: string }).id);
    const mine = apiPlayers.get(call);
    const n = mine?.size ?? 0;
    for (const p of [...(mine ?? [])]) p.stop();
    return { ok: true, stopped: n };
  });

  app.post(
    '/calls/:id/dtmf',
    { schema: { summary: 'Send digits to one leg as RFC 4733 telephone-events, or as DTMF tones in its audio without telephone-event (an extension after the callee answered, a PIN)', params: idParam, body: dtmfBody, response: { 202: anyObject, ...errors, 409: anyObject } } },
    async (req, reply) => {
      const { call } = find((req.params as { id: string }).id);
      if (!(call instanceof SipCall)) throw new ApiError(409, 'conflict', 'nothing is sent to a SIPREC recording client');
      const body = req.body as { digits: string; leg?: string; durationMs?: number; inband?: boolean };
      const legId = body.leg ?? CALLER_LEG;
      const leg = call.room.leg(legId);
      if (!leg || leg.isClosed) throw new ApiError(404, 'not_found', `call has no leg '${legId}'`, 'body.leg');
      for (const d of body.digits.toUpperCase()) leg.sendDigit(d, body.durationMs ?? 100, body.inband === true);
      return reply.code(202).send({ ok: true, leg: legId, digits: body.digits });
    },
  );

  for (const action of ['mute', 'unmute', 'deafen', 'undeafen'] as LegAction[]) {
    app.post(
      `/calls/:id/${action}`,
      { schema: { summary: `${action[0]!.toUpperCase()}${action.slice(1)} one leg of the call`, params: idParam, body: legBody, response: { 200: anyObject, ...errors } } },
      async (req) => {
        const { call } = find((req.params as { id: string }).id);
        const legId = (req.body as { leg?: string } | undefined)?.leg ?? CALLER_LEG;
        const leg = call.room.leg(legId);
        if (!leg || leg.isClosed) throw new ApiError(404, 'not_found', `call has no leg '${legId}'`, 'body.leg');
        if (action === 'mute' || action === 'unmute') leg.mute(action === 'mute');
        else leg.deafen(action === 'deafen');
        return { ok: true, leg: legId, action };
      },
    );
  }

  app.post(
    '/calls/:id/transfer',
    { schema: { summary: 'Blind transfer (REFER), then hang up', params: idParam, body: transferBody, response: { 200: okSchema, ...errors, 409: anyObject, 502: anyObject } } },
    async (req) => {
      const { call } = find((req.params as { id: string }).id);
      if (!call.answered) throw new ApiError(409, 'conflict', 'the call is not answered yet');
      try {
        await call.transfer((req.body as { to: string }).to);
      } catch (err) {
        throw new ApiError(502, 'transfer_failed', (err as Error).message);
      }
      return { ok: true };
    },
  );

  for (const action of ['start', 'stop', 'pause', 'resume', 'mask', 'unmask'] as RecAction[]) {
    app.post(
      `/calls/:id/recording/${action}`,
      { schema: { summary: `Recording: ${action}`, params: idParam, response: { 200: anyObject, ...errors, 409: anyObject } } },
      async (req) => {
        const { call } = find((req.params as { id: string }).id);
        let rec = call.activeRecording;
        if (action === 'start') {
          if (rec && rec.recorder.isClosed) throw new ApiError(409, 'conflict', 'this call was recorded already and the recording is stopped');
          if (!rec) {
            // (The call's bridged parties join it there, with their details and holds.)
            await call.startRecording({});
            rec = call.activeRecording!;
          }
          return { ok: true, recording: rec.id };
        }
        if (!rec || rec.recorder.isClosed) throw new ApiError(409, 'conflict', 'the call is not being recorded');
        if (action === 'stop') {
          const id = rec.id;
          rec.stop().catch(() => undefined);
          return { ok: true, recording: id };
        }
        if (action === 'pause') rec.pause();
        else if (action === 'resume') rec.resume();
        else rec.mask(action === 'mask');
        return { ok: true, recording: rec.id, paused: rec.recorder.isPaused, masked: rec.recorder.isMasked };
      },
    );
  }
}

/**
 * A prompt that cannot be played is the request's fault, answered before the 202: 404 when
 * no such file is in the prompts folder, 400 when the name or the file is unusable. The clip
 * loaded here stays in the library's cache, so the player does not read it again.
 */
async function checkPrompt(prompts: PromptLibrary, name: string, sampleRate: number): Promise<void> {
  try {
    await prompts.load({ prompt: name }, sampleRate);
  } catch (err) {
    if (!(err instanceof PromptError)) throw err;
    if (err.code === 'NOT_FOUND') throw new ApiError(404, 'not_found', `no prompt '${name}'`, 'body.prompt');
    throw new ApiError(400, 'bad_request', err.message, 'body.prompt');
  }
}

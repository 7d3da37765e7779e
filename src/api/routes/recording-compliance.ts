// Compliance routes of recordings: the public signing key, verification of a
// recording (files, signature, audit log) and of the audit log, legal hold and
// release. Who acted is the name of the request's token (api.tokens; api.token is
// `default`), written into the audit log.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HoldError, type ComplianceService } from '../../recording/compliance/compliance-service.ts';
import { verifyAuditLog } from '../../recording/compliance/audit-verify.ts';
import { ApiError, errorSchema } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import { RECORDING_FILE_NAME as SAFE } from '../recording-file.ts';
import { anyObject, errors, idParam } from './schemas.ts';

export const actorOf = (req: FastifyRequest): string => `api:${req.tokenName || 'unknown'}`;

const problemSchema = {
  type: 'object',
  properties: {
    kind: { type: 'string' },
    file: { type: 'string' },
    expected: { type: 'string' },
    actual: { type: 'string' },
    line: { type: 'integer' },
    message: { type: 'string' },
  },
} as const;

const holdSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    held: { type: 'boolean' },
    since: { type: 'string' },
    by: { type: 'string' },
    reason: { type: 'string', nullable: true },
  },
} as const;

const auditSchema = {
  type: 'object',
  properties: { ok: { type: 'boolean' }, file: { type: 'string' }, lines: { type: 'integer' }, lastSeq: { type: 'integer' }, problems: { type: 'array', items: problemSchema } },
} as const;

/** A hold or release that could not be written (audit log, hold file): 503, nothing changed. */
function unavailable(err: unknown, ctx: ApiContext, id: string): ApiError {
  if (err instanceof ApiError) return err;
  ctx.log.error({ err, id }, 'legal hold change not written');
  return new ApiError(503, 'unavailable', `the change could not be written (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing changed`);
}

export function recordingComplianceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const compliance = (): ComplianceService => {
    const c = ctx.parley.compliance;
    if (!c) throw new ApiError(503, 'unavailable', 'recording compliance is not running');
    return c;
  };
  const idOf = (req: FastifyRequest): string => {
    const id = (req.params as { id: string }).id;
    if (!SAFE.test(id)) throw new ApiError(400, 'bad_request', 'params.id: not a recording id', 'params.id');
    return id;
  };

  app.get(
    '/recordings/signing-key',
    {
      schema: {
        summary: 'The public key that signs finalized recordings (Ed25519, PEM) and its id (sha256 of its DER SubjectPublicKeyInfo)',
        response: { 200: { type: 'object', properties: { alg: { type: 'string' }, keyId: { type: 'string' }, publicKey: { type: 'string' } } }, ...errors },
      },
    },
    async () => {
      const k = compliance().key;
      return { alg: 'Ed25519', keyId: k.id, publicKey: k.pem };
    },
  );

  app.get(
    '/recordings/audit/verify',
    { schema: { summary: 'Checks the whole audit log: its hash chain line by line and its signed head', response: { 200: auditSchema, ...errors } } },
    async () => {
      const c = compliance();
      await c.audit.settled();
      const r = await verifyAuditLog(c.auditFile, c.key);
      return { ok: r.ok, file: r.file, lines: r.lines, lastSeq: r.lastSeq, problems: r.problems };
    },
  );

  app.get(
    '/recordings/:id/verify',
    {
      schema: {
        summary:
          "Verifies a recording: each file's sha256 against the sidecar (a file only in recording.store: its object's size and sha256 metadata; deep=true: its bytes), the sidecar's signature, the audit log; `problems` says exactly what fails",
        params: idParam,
        querystring: { type: 'object', additionalProperties: false, properties: { deep: { type: 'string', enum: ['true', 'false'], description: 'download and hash the objects of files only in recording.store' } } },
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              ok: { type: 'boolean' },
              state: { type: 'string' },
              signature: { type: 'string' },
              files: { type: 'array', items: anyObject },
              problems: { type: 'array', items: problemSchema },
              audit: auditSchema,
            },
          },
          ...errors,
        },
      },
    },
    async (req) => {
      const id = idOf(req);
      const deep = (req.query as { deep?: string } | undefined)?.deep === 'true';
      const { recording, audit } = await compliance().verify(id, undefined, deep);
      if (recording.problems.some((p) => p.kind === 'sidecar-missing') && !audit.byRecording.has(id)) throw ApiError.notFound('recording', id);
      return {
        ...recording,
        ok: recording.ok && audit.ok,
        audit: { ok: audit.ok, file: audit.file, lines: audit.lines, lastSeq: audit.lastSeq, problems: audit.problems },
      };
    },
  );

  app.post(
    '/recordings/:id/hold',
    {
      schema: {
        summary: 'Puts a recording on legal hold: no retention policy deletes it until it is released',
        params: idParam,
        body: { type: 'object', nullable: true, additionalProperties: false, properties: { reason: { type: 'string', maxLength: 1000 } } },
        response: { 200: holdSchema, ...errors },
      },
    },
    async (req) => {
      const id = idOf(req);
      const reason = (req.body as { reason?: string } | null)?.reason ?? null;
      try {
        const h = await compliance().hold(id, actorOf(req), reason);
        return { id, held: true, ...h };
      } catch (err) {
        if (err instanceof HoldError && err.kind === 'not_found') throw ApiError.notFound('recording', id);
        throw unavailable(err, ctx, id);
      }
    },
  );

  app.delete(
    '/recordings/:id/hold',
    {
      schema: {
        summary: 'Releases a legal hold (retention applies again); 404 when the recording is not held',
        params: idParam,
        response: { 200: holdSchema, 404: errorSchema, 400: errorSchema, 401: errorSchema },
      },
    },
    async (req) => {
      const id = idOf(req);
      const released = await compliance()
        .release(id, actorOf(req), null)
        .catch((err: unknown) => {
          throw unavailable(err, ctx, id);
        });
      if (!released) throw new ApiError(404, 'not_found', `recording '${id}' is not on hold`);
      return { id, held: false };
    },
  );
}

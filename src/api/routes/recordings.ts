// Recordings on disk, from their JSON sidecars. A file is served only when the
// recording's own metadata lists it, and only when it is a regular file really
// inside recording.dir (recording-file.ts: no symlinks, no way out).
import { readdir } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { RecordingMetadata } from '../../recording/metadata.ts';
import { ApiError, errorSchema } from '../api-error.ts';
import { recordingMatches, recordingQuerySchema, siprecSummary, type RecordingQuery } from '../recording-filter.ts';
import type { ApiContext } from '../api-server.ts';
import { openRecordingFile, type OpenedRecordingFile, readRecordingText, RECORDING_FILE_NAME as SAFE, RecordingFileError } from '../recording-file.ts';
import { anyArray, anyObject, errors, idParam } from './schemas.ts';

const TYPES: Record<string, string> = {
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.json': 'application/json',
  '.xml': 'application/rs-metadata+xml',
};

function listedFiles(id: string, m: RecordingMetadata): string[] {
  return [
    m.mix?.file,
    m.stereo?.file,
    ...(m.legs ?? []).flatMap((l) => l.stems.map((s) => s.file)),
    ...(m.postProcessed ?? []).map((p) => p.file),
    ...(m.siprec?.metadataVersions ?? []).map((v) => v.file),
    `${id}.json`,
    // A sidecar naming `../x` or `a/b` names nothing Parley wrote: not listed, never served.
  ].filter((f): f is string => typeof f === 'string' && SAFE.test(f));
}

export function recordingRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const dir = (): string => ctx.parley.config.recording.dir;

  /** 403 for what may not be served (logged: someone put it there), 404 for what is not there. */
  const refused = (err: unknown, what: Record<string, string>): ApiError => {
    if (err instanceof RecordingFileError && err.kind === 'forbidden') {
      ctx.log.warn({ ...what, dir: dir(), why: err.detail ?? err.message }, 'recording file refused');
      return new ApiError(403, 'forbidden', err.message);
    }
    return new ApiError(404, 'not_found', err instanceof RecordingFileError ? err.message : `not found`);
  };

  const load = async (id: string): Promise<RecordingMetadata> => {
    if (!SAFE.test(id)) throw new ApiError(400, 'bad_request', 'params.id: not a recording id', 'params.id');
    let text: string;
    try {
      text = await readRecordingText(dir(), `${id}.json`);
    } catch (err) {
      if (err instanceof RecordingFileError && err.kind === 'not_found') throw ApiError.notFound('recording', id);
      throw refused(err, { id });
    }
    try {
      return JSON.parse(text) as RecordingMetadata;
    } catch {
      throw ApiError.notFound('recording', id);
    }
  };

  app.get('/recordings', { schema: { summary: 'Recordings, newest first, from their metadata; filtered by participant, SIPREC group or session, and start time', querystring: recordingQuerySchema, response: { 200: anyArray, ...errors } } }, async (req) => {
    const query = (req.query ?? {}) as RecordingQuery;
    let names: string[] = [];
    try {
      names = (await readdir(dir())).filter((f) => f.endsWith('.json') && SAFE.test(f));
    } catch {
      return [];
    }
    const out: Record<string, unknown>[] = [];
    for (const f of names) {
      const id = f.slice(0, -5);
      try {
        const m = JSON.parse(await readRecordingText(dir(), f)) as RecordingMetadata;
        if (m.version !== 1 || !m.mix || !recordingMatches(m, query)) continue;
        out.push({
          id,
          room: m.room,
          state: m.state,
          startedAt: m.startedAt,
          endedAt: m.endedAt,
          durationMs: m.durationMs,
          legs: m.legs.map((l) => ({ id: l.id, uri: l.uri, originalTo: l.originalTo, role: l.role })),
          files: listedFiles(id, m),
          ...(m.siprec ? { siprec: siprecSummary(m) } : {}),
        });
      } catch (err) {
        // A sidecar being rewritten or not ours: left out of the list; a link is logged.
        if (err instanceof RecordingFileError && err.kind === 'forbidden') refused(err, { file: f });
      }
    }
    return out.sort((a, b) => String(b.startedAt).localeCompare(String(a.startedAt)));
  });

  app.get('/recordings/:id', { schema: { summary: 'A recording\'s metadata (the sidecar)', params: idParam, response: { 200: anyObject, ...errors } } }, async (req) =>
    load((req.params as { id: string }).id),
  );

  app.get(
    '/recordings/:id/files/:file',
    {
      schema: {
        summary: 'Download one file the recording\'s metadata lists',
        produces: ['audio/wav', 'audio/ogg', 'audio/mpeg', 'application/json', 'application/rs-metadata+xml'],
        params: {
          type: 'object',
          required: ['id', 'file'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 256 }, file: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        response: { ...errors, 403: errorSchema },
      },
    },
    async (req, reply) => {
      const { id, file } = req.params as { id: string; file: string };
      if (!SAFE.test(file)) throw new ApiError(400, 'bad_request', 'params.file: not a file name of this recording', 'params.file');
      const m = await load(id);
      if (!listedFiles(id, m).includes(file)) throw new ApiError(404, 'not_found', `recording '${id}' has no file '${file}'`);
      let opened: OpenedRecordingFile;
      try {
        opened = await openRecordingFile(dir(), file);
      } catch (err) {
        if (err instanceof RecordingFileError && err.kind === 'not_found') throw new ApiError(404, 'not_found', `file '${file}' is not on disk`);
        throw refused(err, { id, file });
      }
      const { handle, size } = opened;
      reply
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .header('Content-Length', size)
        .header('Content-Disposition', `attachment; filename="${file}"`);
      if (size === 0) {
        await handle.close();
        return reply.send('');
      }
      // From the descriptor that was checked, never the path again; no more than the size
      // announced (a file still growing would overrun Content-Length). The stream closes it.
      return reply.send(handle.createReadStream({ start: 0, end: size - 1 }));
    },
  );
}

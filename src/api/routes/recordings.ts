// Recordings on disk, from their JSON sidecars. A file is served only when the
// recording's own metadata lists it, and only from inside recording.dir.
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { RecordingMetadata } from '../../recording/metadata.ts';
import { pathInside } from '../../recording/file-names.ts';
import { ApiError } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import { anyArray, anyObject, errors, idParam } from './schemas.ts';

/** What recording ids and file names look like (file-names.ts safeName). */
const SAFE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,200}$/;

const TYPES: Record<string, string> = {
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.json': 'application/json',
};

function listedFiles(id: string, m: RecordingMetadata): string[] {
  return [
    m.mix?.file,
    m.stereo?.file,
    ...(m.legs ?? []).flatMap((l) => l.stems.map((s) => s.file)),
    ...(m.postProcessed ?? []).map((p) => p.file),
    `${id}.json`,
  ].filter((f): f is string => typeof f === 'string');
}

export function recordingRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const dir = (): string => ctx.parley.config.recording.dir;

  const load = async (id: string): Promise<RecordingMetadata> => {
    if (!SAFE.test(id) || id.includes('..')) throw new ApiError(400, 'bad_request', 'params.id: not a recording id', 'params.id');
    try {
      return JSON.parse(await readFile(pathInside(dir(), `${id}.json`), 'utf8')) as RecordingMetadata;
    } catch {
      throw ApiError.notFound('recording', id);
    }
  };

  app.get('/recordings', { schema: { summary: 'Recordings, newest first, from their metadata', response: { 200: anyArray, ...errors } } }, async () => {
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
        const m = JSON.parse(await readFile(pathInside(dir(), f), 'utf8')) as RecordingMetadata;
        if (m.version !== 1 || !m.mix) continue;
        out.push({
          id,
          room: m.room,
          state: m.state,
          startedAt: m.startedAt,
          endedAt: m.endedAt,
          durationMs: m.durationMs,
          legs: m.legs.map((l) => ({ id: l.id, uri: l.uri, originalTo: l.originalTo, role: l.role })),
          files: listedFiles(id, m),
        });
      } catch {
        // A sidecar being rewritten or not ours: left out of the list.
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
        produces: ['audio/wav', 'audio/ogg', 'audio/mpeg', 'application/json'],
        params: {
          type: 'object',
          required: ['id', 'file'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 256 }, file: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        response: { ...errors },
      },
    },
    async (req, reply) => {
      const { id, file } = req.params as { id: string; file: string };
      if (!SAFE.test(file) || file.includes('..')) throw new ApiError(400, 'bad_request', 'params.file: not a file name of this recording', 'params.file');
      const m = await load(id);
      if (!listedFiles(id, m).includes(file)) throw new ApiError(404, 'not_found', `recording '${id}' has no file '${file}'`);
      let full: string;
      let size: number;
      try {
        full = pathInside(dir(), file);
        const s = await stat(full);
        if (!s.isFile()) throw new Error('not a file');
        size = s.size;
      } catch {
        throw new ApiError(404, 'not_found', `file '${file}' is not on disk`);
      }
      return reply
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .header('Content-Length', size)
        .header('Content-Disposition', `attachment; filename="${file}"`)
        .send(createReadStream(full));
    },
  );
}

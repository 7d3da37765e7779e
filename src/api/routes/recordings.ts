// Recordings on disk, from their JSON sidecars. A file is served only when the
// recording's own metadata lists it, and only when it is a regular file really
// inside recording.dir (recording-file.ts: no symlinks, no way out).
import { extname } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { derivedListFile, parseDerived, withDerived } from '../../recording/derived-files.ts';
import type { RecordingMetadata } from '../../recording/metadata.ts';
import { siprecSummary } from '../../recording/siprec-sidecar.ts';
import { ApiError, errorSchema } from '../api-error.ts';
import type { ApiContext } from '../api-server.ts';
import { CopiesBusy, openDownload, type Download } from '../recording-download.ts';
import { readRecordingText, RECORDING_FILE_NAME as SAFE, RecordingFileError } from '../recording-file.ts';
import { actorOf } from './recording-compliance.ts';
import { listQuery, parseListQuery } from './recording-search.ts';
import { anyArray, anyObject, errors, idParam } from './schemas.ts';
import { mapLimited } from '../../util/map-limited.ts';
import { RangeNotSatisfiable } from '../byte-range.ts';
import { BucketCopies } from '../bucket-copies.ts';

/** Sidecars a recordings list reads at once. */
const SIDECAR_READS = 16;

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

function sha256Listed(m: RecordingMetadata, file: string): string | null {
  const entries = [m.mix, m.stereo, ...(m.legs ?? []).flatMap((l) => l.stems ?? []), ...(m.postProcessed ?? []), ...(m.siprec?.metadataVersions ?? [])];
  return entries.find((e) => e?.file === file)?.sha256 ?? null;
}

export function recordingRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const dir = (): string => ctx.parley.config.recording.dir;
  // The verified copies of bucket objects that downloads share (a player's Range requests).
  const copies = ctx.copies ?? new BucketCopies();
  app.addHook('onClose', async () => copies.close());

  /** 403 for what may not be served (logged: someone put it there), 404 for what is not there. */
  const refused = (err: unknown, what: Record<string, string>): ApiError => {
    if (err instanceof RecordingFileError && err.kind === 'forbidden') {
      ctx.log.warn({ ...what, dir: dir(), why: err.detail ?? err.message }, 'recording file refused');
      return new ApiError(403, 'forbidden', err.message);
    }
    return new ApiError(404, 'not_found', err instanceof RecordingFileError ? err.message : `not found`);
  };

  /** An open recording's metadata from memory, with the lengths recorded so far (its sidecar's may be 10 s old); null when it is not open here. */
  const live = (id: string): RecordingMetadata | null => ctx.parley.recordings?.open.get(id)?.metadata ?? null;

  /** The sidecar with the files `parley recordings encode` made since it was signed (derived-files.ts); an unreadable list is logged, not served. */
  const derived = async (id: string, m: RecordingMetadata): Promise<RecordingMetadata> => {
    if (m.state !== 'finalized') return m;
    try {
      return withDerived(m, parseDerived(id, await readRecordingText(dir(), derivedListFile(id))));
    } catch (err) {
      if (!(err instanceof RecordingFileError && err.kind === 'not_found')) ctx.log.warn({ err, recording: id, file: derivedListFile(id) }, 'the list of encoded files cannot be read');
      return m;
    }
  };

  /** A list row from the sidecar; null when it cannot be read now (being rewritten, removed, a link: logged). */
  const row = async (id: string, held: boolean): Promise<Record<string, unknown> | null> => {
    try {
      // An open recording's row is read from its sidecar in memory at once (no copy: the row takes a few fields).
      const m = ctx.parley.recordings?.open.get(id)?.metadataNow ?? (await derived(id, JSON.parse(await readRecordingText(dir(), `${id}.json`)) as RecordingMetadata));
      if (m.version !== 1 || !m.mix) return null;
      return {
        id,
        room: m.room,
        state: m.state,
        startedAt: m.startedAt,
        endedAt: m.endedAt,
        durationMs: m.durationMs,
        flow: m.flow ?? null,
        rule: m.rule ?? null,
        retention: m.retention ?? null,
        held,
        legs: (m.legs ?? []).map((l) => ({ id: l.id, uri: l.uri, originalTo: l.originalTo, role: l.role })),
        files: listedFiles(id, m),
        ...(m.siprec ? { siprec: siprecSummary(m.siprec) } : {}),
      };
    } catch (err) {
      if (err instanceof RecordingFileError && err.kind === 'forbidden') refused(err, { file: `${id}.json` });
      return null;
    }
  };

  const load = async (id: string): Promise<RecordingMetadata> => {
    if (!SAFE.test(id)) throw new ApiError(400, 'bad_request', 'params.id: not a recording id', 'params.id');
    const recording = live(id);
    if (recording) return recording;
    let text: string;
    try {
      text = await readRecordingText(dir(), `${id}.json`);
    } catch (err) {
      if (err instanceof RecordingFileError && err.kind === 'not_found') throw ApiError.notFound('recording', id);
      throw refused(err, { id });
    }
    let m: RecordingMetadata;
    try {
      m = JSON.parse(text) as RecordingMetadata;
    } catch {
      throw ApiError.notFound('recording', id);
    }
    return derived(id, m);
  };

  app.get(
    '/recordings',
    {
      schema: {
        summary: 'Recordings, newest first, from the recordings index; filters combine; the next page is `cursor` = the X-Next-Cursor header',
        querystring: listQuery,
        response: { 200: anyArray, ...errors },
      },
    },
    async (req, reply) => {
      const q = parseListQuery(req.query as Record<string, string | undefined>);
      const c = ctx.parley.compliance;
      if (!c) throw new ApiError(503, 'unavailable', 'the recordings index is not running');
      const page = await c.search(q);
      if (page.next) reply.header('X-Next-Cursor', page.next);
      // A page is up to 1000 sidecars: read 16 at a time, not all at once (one request held 1000 descriptors).
      const rows = await mapLimited(page.entries, SIDECAR_READS, (e) => row(e.id, c.holds.isHeld(e.id)));
      return rows.filter((r): r is Record<string, unknown> => r !== null);
    },
  );

  app.get('/recordings/:id', { schema: { summary: 'A recording\'s metadata (the sidecar)', params: idParam, response: { 200: anyObject, ...errors } } }, async (req) =>
    load((req.params as { id: string }).id),
  );

  const fileParams = {
    type: 'object',
    required: ['id', 'file'],
    properties: { id: { type: 'string', minLength: 1, maxLength: 256 }, file: { type: 'string', minLength: 1, maxLength: 256 } },
  } as const;
  const fileErrors = { ...errors, 403: errorSchema, 409: errorSchema, 416: errorSchema, 500: errorSchema, 502: errorSchema, 503: errorSchema } as const;

  /** Checks and opens a listed file of a recording (the checks of recording-file.ts, decrypted when sealed). */
  const open = async (id: string, file: string, o: { hash?: boolean; range?: string; copies?: BucketCopies; body?: boolean } = {}): Promise<{ m: RecordingMetadata; d: Download }> => {
    if (!SAFE.test(file)) throw new ApiError(400, 'bad_request', 'params.file: not a file name of this recording', 'params.file');
    const m = await load(id);
    if (!listedFiles(id, m).includes(file)) throw new ApiError(404, 'not_found', `recording '${id}' has no file '${file}'`);
    try {
      return { m, d: await openDownload(ctx.parley.recordings, dir(), id, m, file, o) };
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw refused(err, { id, file });
    }
  };
  const headers = (reply: FastifyReply, d: Download, file: string): FastifyReply => {
    reply
      .type(d.decrypted ? 'audio/wav' : (TYPES[extname(file)] ?? 'application/octet-stream'))
      .header('Content-Length', d.size)
      .header('Content-Disposition', `attachment; filename="${file}"`)
      // A decrypted file is made from its start: ranges only for files sent as they are.
      .header('Accept-Ranges', d.decrypted ? 'none' : 'bytes');
    if (d.range) reply.code(206).header('Content-Range', `bytes ${d.range.start}-${d.range.end}/${d.range.total}`);
    return reply;
  };

  // Declared before the GET, which would otherwise get Fastify's own HEAD: that one ran the
  // download (an `exported` entry in the audit log for nothing sent) and read the whole
  // file (decrypting it when sealed) to throw it away.
  app.head('/recordings/:id/files/:file', { schema: { params: fileParams, response: fileErrors } }, async (req, reply) => {
    const { id, file } = req.params as { id: string; file: string };
    // No body: a file sent as it is is not read (an object of recording.store not fetched).
    const { d } = await open(id, file, { body: false });
    d.stream?.destroy();
    return headers(reply, d, file).send();
  });

  app.get(
    '/recordings/:id/files/:file',
    {
      schema: {
        summary: 'Download one file the recording\'s metadata lists',
        produces: ['audio/wav', 'audio/ogg', 'audio/mpeg', 'application/json', 'application/rs-metadata+xml'],
        params: fileParams,
        response: fileErrors,
      },
    },
    async (req, reply) => {
      const { id, file } = req.params as { id: string; file: string };
      const range = req.headers.range;
      // The whole file is hashed before a byte goes, a range or not; the range is cut from those bytes.
      const { m, d } = await open(id, file, { hash: true, range, copies }).catch((err: unknown) => {
        if (err instanceof RangeNotSatisfiable) reply.header('Content-Range', `bytes */${err.total}`);
        // RFC 9110 §10.2.3: a 503 may say when to come back.
        if (err instanceof CopiesBusy) reply.header('Retry-After', String(err.retryAfterSec));
        throw err;
      });
      // Every export is in the audit log before a byte goes: who, which file, the sha256 of the
      // whole file as read to be sent (sealed: the ciphertext decrypted on the way), the range
      // asked for. A file that does not hash as its sidecar says (altered on disk or in the
      // bucket) is refused, and that is logged.
      const expected = sha256Listed(m, file);
      const altered = expected !== null && d.sha256 !== expected;
      const part = d.range ? { range: `bytes=${d.range.start}-${d.range.end}/${d.range.total}` } : {};
      try {
        await ctx.parley.compliance?.exported(id, file, actorOf(req), d.sha256, { from: d.from, decrypted: d.decrypted, ...part, ...(altered ? { expected } : {}) });
      } catch (err) {
        d.stream?.destroy();
        ctx.log.error({ err, id, file }, 'export refused: the audit log cannot be written');
        throw new ApiError(503, 'unavailable', 'the audit log cannot be written; exports are refused until it can');
      }
      if (altered) {
        d.stream?.destroy();
        ctx.log.warn({ recording: id, file, from: d.from, expected, actual: d.sha256 }, 'export refused: the file was altered');
        const where = d.from === 'bucket' ? 'its object in recording.store' : 'the file on disk';
        throw new ApiError(409, 'altered', `${file}: sha256 ${d.sha256}, the sidecar says ${expected}: ${where} was altered; not served`);
      }
      ctx.log.info({ recording: id, file, from: d.from, decrypted: d.decrypted, bytes: d.size, ...(d.range ? { range: d.range } : {}) }, 'recording file exported');
      // Never more than announced (a file still growing would overrun Content-Length); decrypted on the way when sealed.
      return headers(reply, d, file).send(d.stream ?? '');
    },
  );
}

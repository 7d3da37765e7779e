// GET /recordings query: what the recordings index filters on, checked here so
// that a bad value is a 400 naming it. Times are ISO 8601 (or ms since the epoch).
import type { RecordingQuery } from '../../recording/compliance/recording-index.ts';
import { ApiError } from '../api-error.ts';
import { decodeCursor } from '../../recording/compliance/recording-index.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

const text = { type: 'string', minLength: 1, maxLength: 512 } as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { ...text, description: 'started at or after this time (ISO 8601)' },
    until: { ...text, description: 'started before this time (ISO 8601)' },
    flow: { ...text, description: 'the flow that recorded' },
    rule: { ...text, description: 'the rule that gave the call to the flow' },
    originalTo: { ...text, description: 'the original To URI a leg dialled (case, brackets and parameters aside)' },
    participant: { ...text, description: "a participant's URI: a leg's, or an entry of the sidecar's participants list (SIPREC: any of a participant's AORs)" },
    group: { ...text, description: 'SIPREC group id: the sessions of one call across transfers' },
    session: { ...text, description: 'SIPREC session id' },
    held: { type: 'string', enum: ['true', 'false'], description: 'on legal hold or not' },
    state: { type: 'string', enum: ['recording', 'closed', 'finalized'] },
    limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: `page size, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})` },
    cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,400}$', description: 'the X-Next-Cursor of the previous page' },
  },
} as const;

function time(v: string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^[0-9]+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new ApiError(400, 'bad_request', `querystring.${field}: not a time (ISO 8601)`, `querystring.${field}`);
  return ms;
}

export function parseListQuery(q: Record<string, string | undefined>): Omit<RecordingQuery, 'where'> & { held?: boolean } {
  const limit = q.limit === undefined ? DEFAULT_LIMIT : Number(q.limit);
  if (limit < 1 || limit > MAX_LIMIT) throw new ApiError(400, 'bad_request', `querystring.limit: 1 to ${MAX_LIMIT}`, 'querystring.limit');
  // A cursor is an X-Next-Cursor given back; one that is not would silently restart at the first page.
  if (q.cursor !== undefined && decodeCursor(q.cursor) === null) throw new ApiError(400, 'bad_request', 'querystring.cursor: not an X-Next-Cursor of this API', 'querystring.cursor');
  return {
    since: time(q.since, 'since'),
    until: time(q.until, 'until'),
    flow: q.flow,
    rule: q.rule,
    originalTo: q.originalTo,
    participant: q.participant,
    group: q.group,
    session: q.session,
    state: q.state,
    held: q.held === undefined ? undefined : q.held === 'true',
    limit,
    cursor: q.cursor,
  };
}

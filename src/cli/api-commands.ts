// `parley calls`, `parley rooms`, `parley recordings`: the control API from the
// command line, at api.host:api.port with api.token from the same config file.
import { writeFileSync } from 'node:fs';
import type { ParleyConfig } from '../config/schema.ts';
import { CliError } from './cli-error.ts';
import { encodeRecordingFiles } from './recordings-encode.ts';

export { CliError };

async function request(config: ParleyConfig, method: string, path: string): Promise<Response> {
  const { enabled, host, port } = config.api;
  const token = config.api.token ?? config.api.tokens[0]?.token ?? null;
  if (!enabled || !token) {
    throw new CliError(
      'the control API is off in this config: set api.enabled: true and api.token (16 characters or more; or api.tokens), and restart Parley with it ' +
        '(the config is ./parley.yaml unless --config FILE or $PARLEY_CONFIG names another: give the file the running Parley was started with)',
      2,
    );
  }
  const h = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  let res: Response;
  try {
    res = await fetch(`http://${h}:${port}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    const why = String((err as Error).cause ?? (err as Error).message);
    throw new CliError(`cannot reach Parley's API at ${h}:${port}: ${why} (is Parley running with this config, api.enabled included? \`bash scripts/start.sh --config FILE\` starts it)`);
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    const hint = res.status === 401 ? ' (the running Parley has another api.token than this config)' : '';
    throw new CliError(`${method} ${path}: ${res.status} ${body.message ?? res.statusText}${hint}`);
  }
  return res;
}

async function json<T>(config: ParleyConfig, method: string, path: string): Promise<T> {
  return (await (await request(config, method, path)).json()) as T;
}

/** Left-aligned columns, a header row, no borders. */
export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function age(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

interface CallRow {
  id: string;
  flow: string;
  startedAt: string;
  from: { uri: string };
  originalTo: { uri: string };
  legs: { id: string; muted: boolean }[];
  recording: { id: string } | null;
}

export async function callsCommand(config: ParleyConfig, args: string[], asJson: boolean): Promise<string> {
  const [sub, id] = args;
  if (sub === 'hangup') {
    if (!id) throw new CliError('usage: parley calls hangup CALL-ID');
    await request(config, 'DELETE', `/calls/${encodeURIComponent(id)}`);
    return `hung up ${id}`;
  }
  if (sub === 'show') {
    if (!id) throw new CliError('usage: parley calls show CALL-ID');
    return JSON.stringify(await json(config, 'GET', `/calls/${encodeURIComponent(id)}`), null, 2);
  }
  if (sub !== undefined) throw new CliError(`parley calls: unknown subcommand '${sub}' (list, show, hangup)`);
  const calls = await json<CallRow[]>(config, 'GET', '/calls');
  if (asJson) return JSON.stringify(calls, null, 2);
  if (calls.length === 0) return 'no calls';
  return table(
    calls.map((c) => [c.id, c.flow, age(c.startedAt), c.from.uri, c.originalTo.uri, c.legs.map((l) => l.id + (l.muted ? '(muted)' : '')).join(','), c.recording?.id ?? '-']),
    ['CALL-ID', 'FLOW', 'AGE', 'FROM', 'ORIGINAL TO', 'LEGS', 'RECORDING'],
  );
}

interface RoomRow {
  name: string;
  legs: number;
  roster: { uri: string; muted: boolean; talking: boolean }[];
}

export async function roomsCommand(config: ParleyConfig, asJson: boolean): Promise<string> {
  const rooms = await json<RoomRow[]>(config, 'GET', '/rooms');
  if (asJson) return JSON.stringify(rooms, null, 2);
  if (rooms.length === 0) return 'no rooms';
  return table(
    rooms.map((r) => [r.name, String(r.legs), r.roster.map((e) => e.uri + (e.muted ? ' (muted)' : '') + (e.talking ? ' (talking)' : '')).join(', ')]),
    ['ROOM', 'LEGS', 'ROSTER'],
  );
}

interface RecordingRow {
  id: string;
  state: string;
  startedAt: string;
  durationMs: number;
  legs: { uri: string | null; originalTo: string | null }[];
  files: string[];
}

/** The API's largest page (GET /recordings `limit`). */
const PAGE = 1000;

/** Every recording, newest first, page after page (X-Next-Cursor) as the API gives them. */
async function listAll(config: ParleyConfig): Promise<RecordingRow[]> {
  const rows: RecordingRow[] = [];
  let cursor: string | null = null;
  do {
    const res = await request(config, 'GET', `/recordings?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    rows.push(...((await res.json()) as RecordingRow[]));
    cursor = res.headers.get('x-next-cursor');
  } while (cursor);
  return rows;
}

export async function recordingsCommand(config: ParleyConfig, args: string[], asJson: boolean, outFile?: string, format?: string, limit?: string): Promise<string> {
  const [sub, id, file] = args;
  if (sub === 'show') {
    if (!id) throw new CliError('usage: parley recordings show ID');
    return JSON.stringify(await json(config, 'GET', `/recordings/${encodeURIComponent(id)}`), null, 2);
  }
  if (sub === 'download') {
    if (!id || !file) throw new CliError('usage: parley recordings download ID FILE [--out PATH]');
    const res = await request(config, 'GET', `/recordings/${encodeURIComponent(id)}/files/${encodeURIComponent(file)}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const target = outFile ?? file;
    writeFileSync(target, bytes);
    return `${target}: ${bytes.length} bytes`;
  }
  if (sub === 'encode') {
    if (!id) throw new CliError('usage: parley recordings encode ID [--format ogg|mp3]');
    const fmt = format ?? 'ogg';
    if (fmt !== 'ogg' && fmt !== 'mp3') throw new CliError(`--format: ogg or mp3, not '${fmt}'`);
    const made = await encodeRecordingFiles(config, id, fmt);
    return made.join('\n');
  }
  if (sub !== undefined) throw new CliError(`parley recordings: unknown subcommand '${sub}' (list, show, download, encode)`);
  if (limit !== undefined && !/^[1-9][0-9]{0,8}$/.test(limit)) throw new CliError(`--limit: a number of recordings (1 or more), not '${limit}'`, 2);
  const all = await listAll(config);
  const recs = limit === undefined ? all : all.slice(0, Number(limit));
  if (asJson) return JSON.stringify(recs, null, 2);
  if (recs.length === 0) return 'no recordings';
  const more = all.length - recs.length;
  return table(
    recs.map((r) => [r.id, r.state, r.startedAt, `${(r.durationMs / 1000).toFixed(1)}s`, r.legs.map((l) => l.uri ?? '?').join(', '), r.legs[0]?.originalTo ?? '-']),
    ['ID', 'STATE', 'STARTED', 'LENGTH', 'LEGS', 'ORIGINAL TO'],
  ) + (more > 0 ? `\n… ${more} more (--limit ${limit}; without --limit all ${all.length} are listed)` : '');
}

// Recording file names: built only from safe characters, and checked to stay in
// the recordings folder, whatever a room or leg id contains.
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** Letters, digits, dot, dash, underscore; anything else, and leading dots, become '_'; never empty. */
export function safeName(raw: string, max = 64): string {
  const s = raw
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, (dots) => '_'.repeat(dots.length))
    .slice(0, max);
  return s === '' ? '_' : s;
}

/** `name` inside `dir`; throws when it is not strictly inside. */
export function pathInside(dir: string, name: string): string {
  const root = resolve(dir);
  const full = resolve(root, name);
  const rel = relative(root, full);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel) || rel.includes(sep)) {
    throw new Error(`recording file name '${name}' leaves ${root}`);
  }
  return full;
}

/** 20261122T072842Z: sortable, no colons. */
export function compactTime(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * A new recording's id: `<room>-<start, to the second>-<up to 6 hex digits>` (the room as safeName, at most
 * 48 characters). Its files are named after it (`<id>.mix.wav`, `<id>.stereo.wav`, `<id>.leg<n>-<leg>.wav`,
 * `<id>.json`, `<id>.key`): recovery reads the start and the room back from a name (recordingFileParts).
 */
export function newRecordingId(roomId: string, started: Date): string {
  return `${safeName(roomId, 48)}-${compactTime(started)}-${Math.random().toString(16).slice(2, 8)}`;
}

/** What a recording's WAV file name says: its recording id, and which file of it (a stem: its number and leg, as safeName). */
export interface RecordingFilePart {
  id: string;
  kind: 'mix' | 'stereo' | 'stem';
  /** A stem: the n of `leg<n>` (the order of the joins) and the leg id as safeName (at most 40 characters). */
  n?: number;
  leg?: string;
}

/** `-<compactTime>-<hex>` ending a recording id, followed by the dot of the file's own part. */
const ID_END = /-\d{8}T\d{6}Z-[0-9a-f]{1,6}(?=\.)/g;
const ROOM = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,47}$/;
const STEM = /^leg(\d+)-([A-Za-z0-9_-][A-Za-z0-9._-]{0,39})\.wav$/;

/**
 * Every way `name` reads as a WAV of a recording (newRecordingId, Recorder, Stems): usually one; more only
 * when a room or leg id itself holds something like an id's end (`x-20261122T072842Z-ab.leg1-y`).
 */
export function recordingFileParts(name: string): RecordingFilePart[] {
  const out: RecordingFilePart[] = [];
  for (const m of name.matchAll(ID_END)) {
    const end = m.index + m[0].length;
    const id = name.slice(0, end);
    if (!ROOM.test(name.slice(0, m.index))) continue;
    const rest = name.slice(end + 1);
    if (rest === 'mix.wav' || rest === 'stereo.wav') out.push({ id, kind: rest === 'mix.wav' ? 'mix' : 'stereo' });
    const stem = STEM.exec(rest);
    if (stem) out.push({ id, kind: 'stem', n: Number(stem[1]), leg: stem[2]! });
  }
  return out;
}

/** The start a recording id holds (to the second; null: not an id of newRecordingId). */
export function startOfRecordingId(id: string): Date | null {
  const m = /-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[0-9a-f]{1,6}$/.exec(id);
  if (!m) return null;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The room of a recording id, as its file names hold it (safeName of the room id, at most 48 characters). */
export function roomOfRecordingId(id: string): string {
  return id.replace(/-\d{8}T\d{6}Z-[0-9a-f]{1,6}$/, '');
}

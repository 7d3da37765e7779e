// Recording file names: built only from safe characters, and checked to stay in
// the recordings folder, whatever a room or leg id contains.
import { isAbsolute, relative, resolve } from 'node:path';

/** Letters, digits, dot, dash, underscore; anything else becomes '_'; never empty, never dots only. */
export function safeName(raw: string, max = 64): string {
  const s = raw.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, max);
  return s === '' || /^\.+$/.test(s) ? '_' : s;
}

/** `name` inside `dir`; throws when it is not strictly inside. */
export function pathInside(dir: string, name: string): string {
  const root = resolve(dir);
  const full = resolve(root, name);
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.includes('/')) {
    throw new Error(`recording file name '${name}' leaves ${root}`);
  }
  return full;
}

/** 20261122T072842Z: sortable, no colons. */
export function compactTime(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

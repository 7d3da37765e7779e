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

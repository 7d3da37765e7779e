// Canonical JSON: object keys sorted (by UTF-16 code units, recursively), no
// whitespace, numbers and strings as JSON.stringify writes them. Two sidecars
// with the same content give the same bytes however they were indented or
// ordered, so a signature covers the content, not the layout.
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    // undefined, functions and symbols have no JSON form; in an object they are left out (below).
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined && typeof obj[k] !== 'function')
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * What a sidecar's signature covers: its canonical JSON without `updatedAt` (the
 * time of the last write, which a retried write of the same content changes).
 */
export function signedSidecarText(meta: object): string {
  const { updatedAt: _ignored, ...rest } = meta as Record<string, unknown>;
  return canonicalJson(rest);
}

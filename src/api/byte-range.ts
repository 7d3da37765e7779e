// One byte range of a Range header (RFC 9110 §14): `bytes=a-b`, `bytes=a-`, `bytes=-n`.
// A header that is not one such range (several ranges, another unit, malformed) is
// ignored, as the RFC allows: the whole file is sent with 200.
import { ApiError } from './api-error.ts';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** null: no range to honour (send it all); 'unsatisfiable': 416; else the range, clamped to the size. */
export function parseByteRange(header: string | undefined, size: number): ByteRange | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=\s*([0-9]*)-([0-9]*)\s*$/.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** 416, with the file's size for the `Content-Range: bytes *\/size` the answer carries. */
export class RangeNotSatisfiable extends ApiError {
  constructor(
    readonly total: number,
    range: string,
  ) {
    super(416, 'range_not_satisfiable', `the file has ${total} bytes; the range ${range} is outside it`);
  }
}

// A tolerant reader of SIP multipart bodies (RFC 2046 §5.1, RFC 5621): what a
// SIPREC client sends in its INVITE. Quoted or unquoted boundary, CRLF or bare LF
// line ends, a preamble and an epilogue, any part order. Refused (MultipartError,
// a 400 at the SIP edge): no boundary parameter, no first delimiter, no closing
// delimiter (a body cut short: UDP truncation, a Content-Length that lies), too
// many parts. A part without Content-Type is text/plain (RFC 2046 §5.1.1).

export interface BodyPart {
  /** Lower-case media type without parameters, e.g. `application/sdp`. */
  type: string;
  /** The Content-Type header as received. */
  contentType: string;
  /** Part headers, names lower-cased. */
  headers: Record<string, string>;
  body: string;
}

export class MultipartError extends Error {
  override name = 'MultipartError';
}

/** Parts kept at most; a SIPREC INVITE has two or three. */
const MAX_PARTS = 16;

/** The media type of a Content-Type value, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The `boundary` parameter of a Content-Type, quoted or not; null when there is none. */
export function boundaryOf(contentType: string): string | null {
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^;\s"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

export function parseMultipart(contentType: string, body: string): BodyPart[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new MultipartError('multipart body without a boundary parameter');
  const delim = `--${boundary}`;
  // Every delimiter line: at the start of the body or of a line.
  const positions: { start: number; end: number; closing: boolean }[] = [];
  let from = 0;
  for (;;) {
    const i = body.indexOf(delim, from);
    if (i < 0) break;
    from = i + delim.length;
    if (i > 0 && body[i - 1] !== '\n') continue;
    const closing = body.startsWith('--', from);
    let end = from + (closing ? 2 : 0);
    while (body[end] === ' ' || body[end] === '\t') end++;
    if (body[end] === '\r') end++;
    if (body[end] === '\n') end++;
    else if (end < body.length && !closing) continue; // `--boundaryX`: not a delimiter
    positions.push({ start: i, end, closing });
    if (closing) break;
  }
  if (positions.length === 0) throw new MultipartError('no boundary delimiter in the multipart body');
  if (!positions.at(-1)!.closing) throw new MultipartError('multipart body without its closing delimiter (cut short?)');
  if (positions.length - 1 > MAX_PARTS) throw new MultipartError(`more than ${MAX_PARTS} parts in the multipart body`);
  const parts: BodyPart[] = [];
  for (let k = 0; k + 1 < positions.length; k++) {
    let stop = positions[k + 1]!.start;
    // The line break before a delimiter belongs to it.
    if (body[stop - 1] === '\n') stop--;
    if (body[stop - 1] === '\r') stop--;
    parts.push(readPart(body.slice(positions[k]!.end, Math.max(stop, positions[k]!.end))));
  }
  return parts;
}

function readPart(raw: string): BodyPart {
  const headers: Record<string, string> = {};
  let rest = raw;
  // No headers at all: the part starts with its blank line.
  const blank = /\r?\n\r?\n/.exec(raw);
  const startsBlank = /^\r?\n/.exec(raw);
  if (startsBlank) rest = raw.slice(startsBlank[0].length);
  else if (blank) {
    const head = raw.slice(0, blank.index);
    rest = raw.slice(blank.index + blank[0].length);
    let last: string | null = null;
    for (const line of head.split(/\r?\n/)) {
      if (/^[ \t]/.test(line) && last) {
        headers[last] += ` ${line.trim()}`;
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new MultipartError(`bad header line in a multipart part: ${JSON.stringify(line.slice(0, 40))}`);
      last = line.slice(0, colon).trim().toLowerCase();
      headers[last] = line.slice(colon + 1).trim();
    }
  } else {
    throw new MultipartError('a multipart part without the blank line after its headers');
  }
  const contentType = headers['content-type'] ?? 'text/plain';
  return { type: mediaType(contentType), contentType, headers, body: rest };
}

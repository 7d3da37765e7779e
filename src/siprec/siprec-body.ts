// What a SIPREC request carries (RFC 7866 §6.1): an SDP offer and recording
// metadata, in a multipart/mixed body (any part order, extra parts such as
// application/gtd ignored), or only one of them (a metadata-only UPDATE, a plain
// SDP re-INVITE). `application/rs-metadata` without `+xml` is accepted too.
import { mediaType, MultipartError, parseMultipart } from './multipart.ts';

export interface SiprecBody {
  sdp: string | null;
  metadata: string | null;
  /** Content types of the parts that were neither (kept in the log, never used). */
  ignored: string[];
}

/** A body Parley cannot take: `status` is the SIP answer (400 malformed, 415 a type it does not know). */
export class SiprecBodyError extends Error {
  override name = 'SiprecBodyError';
  constructor(
    readonly status: 400 | 415,
    message: string,
  ) {
    super(message);
  }
}

const METADATA_TYPES = new Set(['application/rs-metadata+xml', 'application/rs-metadata']);

/** Whether an INVITE is a SIPREC one: `Require: siprec` or a Contact with the `+sip.src` feature tag (RFC 7866 §6.1.1). */
export function isSiprecRequest(get: (name: string) => string | undefined): boolean {
  if (/(^|[\s,])siprec($|[\s,;])/i.test(get('Require') ?? '')) return true;
  return /[;\s]\+sip\.src\b/i.test(get('Contact') ?? '');
}

export function readSiprecBody(contentType: string | undefined, body: string | undefined): SiprecBody {
  const text = body ?? '';
  if (text.trim() === '') return { sdp: null, metadata: null, ignored: [] };
  const type = mediaType(contentType);
  if (type === 'application/sdp' || (type === '' && /^v=0/.test(text.trimStart()))) return { sdp: text, metadata: null, ignored: [] };
  if (METADATA_TYPES.has(type)) return { sdp: null, metadata: text, ignored: [] };
  if (!type.startsWith('multipart/')) throw new SiprecBodyError(415, `a body of type ${type || '(none)'} is not SDP or recording metadata`);
  let parts;
  try {
    parts = parseMultipart(contentType ?? '', text);
  } catch (err) {
    if (err instanceof MultipartError) throw new SiprecBodyError(400, err.message);
    throw err;
  }
  const out: SiprecBody = { sdp: null, metadata: null, ignored: [] };
  for (const p of parts) {
    if (p.type === 'application/sdp' && out.sdp === null) out.sdp = p.body;
    else if (METADATA_TYPES.has(p.type) && out.metadata === null) out.metadata = p.body;
    else out.ignored.push(p.type);
  }
  if (out.sdp === null && out.metadata === null) throw new SiprecBodyError(400, 'a multipart body with neither SDP nor recording metadata');
  return out;
}

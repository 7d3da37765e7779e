// What an INVITE's body and Accept ask of Parley, before an app sees it (RFC 3261 §8.2.3):
// a body it cannot read gets 415 with what it accepts (RFC 4475 §3.3.6), one in a content
// encoding other than identity (gzip) 415 with Accept-Encoding, and an Accept that rules out
// SDP 406 (§21.4.7, RFC 4475 §3.3.15). A body marked `handling=optional` is not refused.
import { SipError } from '../message/sip-error.ts';
import type { SipMessage } from '../message/sip-message.ts';

/** Bodies the app reads besides SDP: SIPREC recording metadata (RFC 7866 §9, a metadata-only UPDATE or re-INVITE). */
const READABLE = new Set(['application/sdp', 'application/rs-metadata+xml', 'application/rs-metadata']);

/** The refusal of an INVITE whose body or Accept Parley cannot take, with the headers it carries; null when it can. */
export function bodyRefusal(req: SipMessage): { error: SipError; headers: Array<[string, string]> } | null {
  const type = (req.get('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
  const optional = /handling\s*=\s*optional/i.test(req.get('Content-Disposition') ?? '');
  const encodings = req.getAll('Content-Encoding').flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase()).filter((t) => t && t !== 'identity');
  if (req.body.length && encodings.length && !optional) {
    return { error: new SipError(415, 'Unsupported Media Type', `cannot read a body in ${encodings.join(', ').slice(0, 40)}`), headers: [['Accept-Encoding', 'identity']] };
  }
  if (req.body.length && type && !READABLE.has(type) && !type.startsWith('multipart/') && !optional) {
    return { error: new SipError(415, 'Unsupported Media Type', `cannot read ${type}`), headers: [['Accept', 'application/sdp']] };
  }
  const accept = req.getAll('Accept').flatMap((v) => v.split(',')).map((t) => t.split(';')[0].trim().toLowerCase()).filter(Boolean);
  if (accept.length && !accept.some((t) => t === 'application/sdp' || t === 'application/*' || t === '*/*')) {
    return { error: new SipError(406, 'Not Acceptable', 'Accept rules out application/sdp'), headers: [['Accept', 'application/sdp']] };
  }
  return null;
}

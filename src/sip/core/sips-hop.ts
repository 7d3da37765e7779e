// The SIPS rule, both ways (RFC 3261 §26.2.2 as RFC 5630 Appendix A rewrites it: a SIPS URI asks
// that every hop up to the UAS be secured with TLS; RFC 5630 removes the "last-hop exception", and
// its §3.1.3 sets SIPS, "TLS-only", apart from SIP over TLS, "best-effort"). A request whose
// Request-URI is sips: and that came over UDP or TCP is refused, whether Parley would have answered
// it or proxied it; one Parley sends with a sips: Request-URI goes over TLS to its next hop, a sip:
// Route or outbound proxy included (RFC 5630 §5.1.1 turns such a request's SIP Route entries into
// SIPS ones), or not at all.
import { parseNameAddr } from '../message/header-values.ts';
import { SipError } from '../message/sip-error.ts';
import type { SipMessage } from '../message/sip-message.ts';
import type { TransportName } from '../transport/transport-types.ts';

export function isSipsUri(uri: string | null | undefined): boolean {
  return uri !== null && uri !== undefined && /^\s*sips:/i.test(uri);
}

/**
 * The answer to a request whose sips: Request-URI arrived over `transport` when that is not TLS
 * (null: it may go on). 416 (Unsupported URI Scheme): RFC 3261 §8.2.2.1 for a UAS and §16.3 item 2
 * for a proxy answer so a Request-URI they cannot serve, and sips: cannot be served over a hop that
 * was not TLS; RFC 5630 §5.1.1 names 416 among the answers after which a UAC must not retry with
 * sip: on its own. Not 480 with warn-code 380 or 381 (RFC 5630 §5.1.2, §5.3): those say that the
 * target has no SIPS Contact or that SIPS is required, neither of which is the matter here.
 */
export function insecureSips(req: SipMessage, transport: TransportName): SipError | null {
  if (transport === 'tls' || !isSipsUri(req.uri)) return null;
  return new SipError(416, 'Unsupported URI Scheme', `a sips: Request-URI must arrive over TLS, not ${transport.toUpperCase()} (RFC 3261 §26.2.2, RFC 5630)`);
}

/** A request to a sips: Request-URI cannot be sent where there is no TLS listener: 416, as its caller would have been answered (see insecureSips). */
export function noTlsForSips(): SipError {
  return new SipError(416, 'Unsupported URI Scheme', 'a sips: Request-URI goes over TLS only (RFC 3261 §26.2.2, RFC 5630) and no TLS listener is configured');
}

/** The methods whose request outside a dialog makes one (RFC 3261 §12.1: INVITE; RFC 6665 §4.1: SUBSCRIBE). */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE']);

/**
 * The answer to a dialog-creating request whose Request-URI is sips: and whose Contact is not
 * (null: they agree). RFC 3261 §8.1.1.8 makes the UAC put a SIPS URI in the Contact of such a
 * request (RFC 5630 §5.1.1 restates it), since the Contact becomes the remote target of the
 * dialog: Parley's in-dialog requests would go to a sip: URI, off TLS, and the session the caller
 * asked to secure would not be. RFC 5630 §5.3 (proxy) and §5.4 (redirect server) answer URIs
 * that are inconsistent in this way with 400 (Bad Request); Parley, which may answer the request
 * or proxy it and decides that above this layer, answers it so either way. Not 480 with
 * warn-code 380 or 381: the Request-URI's scheme is not what is refused.
 */
export function inconsistentSips(req: SipMessage): SipError | null {
  if (!DIALOG_CREATING.has(req.method ?? '') || !isSipsUri(req.uri)) return null;
  try {
    if (req.to.params.get('tag') || req.getAll('Contact').every((c) => isSipsUri(parseNameAddr(c).uri))) return null;
  } catch {
    return null; // a To or Contact that cannot be read gets its own 400 where the request is checked
  }
  return new SipError(400, 'Bad Request', 'a sips: Request-URI needs a sips: Contact (RFC 3261 §8.1.1.8, RFC 5630 §5.3)');
}

/** A forwarded SIPS request's target with only a SIP address: RFC 5630 §5.3 has the proxy refuse it so (480, warn-code 380). */
export class SipsNotAllowedError extends SipError {
  readonly warning = '380 parley "SIPS Not Allowed"';

  constructor(target: string) {
    super(480, 'Temporarily Unavailable', `a sips: request is not forwarded to the sip: target ${target} (RFC 5630 §5.3)`);
  }
}

/**
 * The Request-URI a proxied request carries to `target`. RFC 5630 §5.3: a proxy forwarding a
 * request whose Request-URI is SIPS MUST forward it with a SIPS Request-URI (no "last hop" may
 * be SIP), MUST NOT use `transport=tls`, and MUST NOT forward it to a target that has a SIP
 * address only, which it refuses with 480 and warn-code 380 (SipsNotAllowedError). A target
 * written `sip:…;transport=tls` (how an app names a TLS hop: drachtio-srf's proxy turns a sips:
 * destination into `sip:sips:…`) is the TLS address of that SIPS URI: it goes as `sips:`, its
 * transport parameter dropped. A SIP request keeps its target as written (§5.3: a proxy MUST NOT
 * turn SIP into SIPS; `transport=tls` there still sends it over TLS).
 */
export function forwardedUri(requestUri: string | null, target: string): string {
  if (!isSipsUri(requestUri) || isSipsUri(target)) return target;
  const params = /^sip:([^?]*?)(\?.*)?$/i.exec(target.trim());
  if (!params || !/;\s*transport\s*=\s*tls\s*(?=;|$)/i.test(params[1]!)) throw new SipsNotAllowedError(target);
  return `sips:${params[1]!.replace(/;\s*transport\s*=\s*tls\s*(?=;|$)/i, '')}${params[2] ?? ''}`;
}

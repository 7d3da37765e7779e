// The headers an app passes with a `proxy` command, applied to the forwarded request
// the way drachtio-server 0.9.10 applies them (src/sip-proxy-controller.cpp
// forwardRequest → makeTags in src/drachtio.cpp → sofia-sip's sip_add_tagis and
// msg_header_add_make): every line is *added*. A header sofia-sip knows as a single
// header replaces the request's one; one it knows as a comma list gets the items added;
// any other (every custom header, Ms-*, X-*) is appended as another field, even with an
// empty value. Nothing is ever removed: drachtio's proxy has no way to remove a header,
// so the embedded server offers none either (an app that must remove or rewrite headers
// writes the request itself, as a B2BUA; see src/signaling/header-edit-relay.ts).
import type { HeaderField, SipMessage } from '../message/sip-message.ts';

/** Headers drachtio-server refuses from an app (isImmutableHdr), plus the ones the proxy owns. */
const IGNORED = new Set(['Via', 'Route', 'Record-Route', 'RSeq', 'Content-Length', 'From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards']);

/** sofia-sip msg_kind_single headers that drachtio maps to tags: the app's value replaces the request's. */
const SINGLE = new Set([
  'User-Agent', 'Subject', 'Expires', 'Date', 'Retry-After', 'Timestamp', 'Min-Expires', 'Priority',
  'Organization', 'Server', 'Event', 'Subscription-State', 'Refer-To', 'Referred-By', 'Replaces',
  'Session-Expires', 'Min-SE', 'Sip-Etag', 'Sip-If-Match', 'MIME-Version', 'Content-Type',
  'Content-Disposition', 'Request-Disposition', 'Refer-Sub', 'Reply-To', 'RAck',
]);

/** sofia-sip msg_kind_list headers: the app's items join the request's first field. */
const LIST = new Set([
  'Allow', 'Require', 'Supported', 'Unsupported', 'Proxy-Require', 'Accept', 'Accept-Encoding',
  'Accept-Language', 'Allow-Events', 'In-Reply-To', 'Privacy', 'Content-Encoding', 'Content-Language',
]);

export function applyAppHeaders(req: SipMessage, appHeaders: readonly HeaderField[]): void {
  for (const h of appHeaders) {
    if (IGNORED.has(h.name)) continue;
    const value = h.value.trim();
    const existing = req.get(h.name);
    if (SINGLE.has(h.name)) {
      if (value !== '') req.set(h.name, value);
    } else if (LIST.has(h.name) && existing !== undefined) {
      if (value !== '') req.set(h.name, `${existing}, ${value}`);
    } else {
      req.add(h.name, value);
    }
  }
}

// Where a new request goes when it carries a Route set (a preloaded one, RFC 3261 §8.1.2,
// §16.6 steps 6-7, §16.12): to its topmost Route, whatever its Request-URI.
import { parseNameAddr } from '../message/header-values.ts';
import type { SipMessage } from '../message/sip-message.ts';

/**
 * The URI to resolve for `req`'s next hop: its topmost Route, else its Request-URI. A Route
 * URI without `lr` is a strict router's (RFC 2543): it becomes the Request-URI, and the
 * Request-URI goes last in the Route set (§16.6 step 6, §12.2.1.1); `req` is rewritten so.
 */
export function routeNextHop(req: SipMessage): string {
  const routes = req.getAll('Route');
  if (!routes.length) return req.uri ?? '';
  const top = parseNameAddr(routes[0]!).uri;
  if (/;lr(?=[;=?>]|$)/i.test(top)) return top;
  req.remove('Route');
  for (const r of [...routes.slice(1), `<${req.uri ?? ''}>`]) req.add('Route', r);
  req.uri = top;
  return top;
}

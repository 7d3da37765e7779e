// Where a callee's 3xx response sends a placed INVITE next, and dialling that follows it (a
// bridge's callee, a transfer's target, a leg the API dials into a room).
import { headerUri } from '../policy/routable-request.ts';
import type { Logger } from '../util/logger.ts';
import { sipFailure } from './dialog-util.ts';

/** A callee's 3xx responses followed at most this many times in a row (each to a new target). */
export const MAX_REDIRECTS = 3;

/**
 * The first Contact URI of a placed INVITE's 3xx response (RFC 3261 §8.1.3.4: where to try
 * next), a sip:, sips: or tel: URI without URI headers; null for anything else.
 */
export function redirectTarget(err: unknown): string | null {
  const status = sipFailure(err)?.status;
  if (status === undefined || status < 300 || status > 399) return null;
  const res = (err as { res?: { get?: (name: string) => string | undefined } }).res;
  const contact = typeof res?.get === 'function' ? res.get('Contact') : undefined;
  if (!contact) return null;
  const first = contact.split(/,(?=\s*(?:"[^"]*"\s*)?<|\s*(?:sips?|tel):)/)[0]!;
  const uri = headerUri(first);
  return /^(sips?|tel):[^\s?<>]+$/i.test(uri) ? uri : null;
}

/**
 * `dialTo(first)`, and on a 3xx the first Contact in its place (the same offer and headers: the
 * caller's closure), at most MAX_REDIRECTS times and never back to a target already tried;
 * `stop()` (the caller left, the ring timeout) ends it with the 3xx. Rejects as dialTo does.
 */
export async function dialFollowingRedirects<T>(first: string, dialTo: (to: string) => Promise<T>, stop: () => boolean, log: Logger): Promise<T> {
  const tried = new Set([first]);
  for (let to = first; ; ) {
    try {
      return await dialTo(to);
    } catch (err) {
      const next = redirectTarget(err);
      if (next === null || tried.size > MAX_REDIRECTS || tried.has(next) || stop()) throw err;
      log.info({ from: to, to: next, status: sipFailure(err)?.status }, 'redirected (3xx): dialling its Contact');
      tried.add(next);
      to = next;
    }
  }
}

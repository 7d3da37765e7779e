// Where a callee's 3xx response sends a placed INVITE next, and dialling that follows it (a
// bridge's callee, a transfer's target, a leg the API dials into a room).
import { canonicalUri, headerUri } from '../policy/routable-request.ts';
import { splitTopLevel } from '../sip/message/header-names.ts';
import { headerParamsAt } from '../sip/message/header-values.ts';
import type { Logger } from '../util/logger.ts';
import { sipFailure } from './dialog-util.ts';

/** How deep 3xx responses are followed: a 3xx from a target that a 3xx gave, and so on, this many in a row. */
export const MAX_REDIRECTS = 3;
/** How many targets 3xx responses give are dialled in all, one after another, for one INVITE. */
export const MAX_REDIRECT_TARGETS = 5;

/**
 * The Contact URIs of a placed INVITE's 3xx response in the order to try them (RFC 3261
 * §8.1.3.4, §16.6): highest q first (a Contact without q is 1.0), equal q in the order
 * written. Only sip:, sips: and tel: URIs; none for anything else. Their URI headers stay on
 * them: the SIP server puts them in the INVITE formed from each (§19.1.5, uri-headers.ts).
 */
export function redirectTargets(err: unknown): string[] {
  const status = sipFailure(err)?.status;
  if (status === undefined || status < 300 || status > 399) return [];
  const res = (err as { res?: { get?: (name: string) => string | undefined } }).res;
  const contact = typeof res?.get === 'function' ? res.get('Contact') : undefined;
  if (!contact) return [];
  const found: Array<{ uri: string; q: number; i: number }> = [];
  splitTopLevel(contact).forEach((value, i) => {
    const uri = headerUri(value);
    if (!/^(sips?|tel):[^\s<>]+$/i.test(uri)) return;
    const q = /;\s*q\s*=\s*([0-9.]+)/i.exec(value.slice(headerParamsAt(value)))?.[1];
    const qv = q === undefined ? 1 : Number(q);
    found.push({ uri, q: Number.isFinite(qv) ? Math.min(1, Math.max(0, qv)) : 0, i });
  });
  return found.sort((a, b) => b.q - a.q || a.i - b.i).map((c) => c.uri);
}

/** The Contact a 3xx sends the INVITE to first (the highest q), or null when it gives none to follow. */
export function redirectTarget(err: unknown): string | null {
  return redirectTargets(err)[0] ?? null;
}

/**
 * `dialTo(first)`, and on a 3xx its Contacts in its place, highest q first, one after another
 * (the same offer and headers: the caller's closure): at most MAX_REDIRECT_TARGETS of them in
 * all, MAX_REDIRECTS deep, never a target already tried. A 3xx from one of them puts its own
 * Contacts before the rest. A 6xx ends it (RFC 3261 §16.7); `stop()` (the caller left, the
 * ring timeout) ends it with what the last target said. When every target fails it rejects
 * with the best response (§16.7 step 6: the lowest class, then the lowest status), leaving
 * out the 3xx whose Contacts were dialled (§16.7 step 4).
 */
export async function dialFollowingRedirects<T>(first: string, dialTo: (to: string) => Promise<T>, stop: () => boolean, log: Logger): Promise<T> {
  const key = (uri: string): string => canonicalUri(uri).toLowerCase();
  const tried = new Set([key(first)]);
  const pending: Array<{ uri: string; depth: number }> = [];
  const failures: unknown[] = [];
  let dialled = 0;
  for (let to = first, depth = 0; ; ) {
    try {
      return await dialTo(to);
    } catch (err) {
      const status = sipFailure(err)?.status;
      if (stop() || (status !== undefined && status >= 600)) throw err;
      const next = depth < MAX_REDIRECTS ? redirectTargets(err).filter((u) => !tried.has(key(u)) && !pending.some((p) => key(p.uri) === key(u))) : [];
      // A 3xx whose Contacts are dialled is no answer of its own; one that gives nothing more to dial is.
      if (next.length > 0 && dialled < MAX_REDIRECT_TARGETS) pending.unshift(...next.map((uri) => ({ uri, depth: depth + 1 })));
      else failures.push(err);
      const target = dialled < MAX_REDIRECT_TARGETS ? pending.shift() : undefined;
      if (!target) throw best(failures);
      log.info({ from: to, to: target.uri, status, left: pending.length }, status !== undefined && status < 400 ? 'redirected (3xx): dialling its Contact' : 'dialling the next Contact of the 3xx');
      tried.add(key(target.uri));
      dialled++;
      to = target.uri;
      depth = target.depth;
    }
  }
}

/** §16.7 step 6 over the failures: the lowest class, then the lowest status; a SIP failure before any other error. */
function best(failures: unknown[]): unknown {
  const sip = failures.filter((f) => sipFailure(f) !== null);
  if (sip.length === 0) return failures[0];
  const rank = (f: unknown): number => {
    const s = sipFailure(f)!.status;
    return Math.floor(s / 100) * 1000 + s;
  };
  return sip.reduce((a, b) => (rank(b) < rank(a) ? b : a));
}

// Turns a rule's `match` block into a predicate that also says which conditions
// failed, for the dry run and the logs. All conditions must hold (AND).
import { compilePattern, compileSource, type Matcher } from './pattern.ts';
import { addressOfRecord, canonicalUri, headerUri, sdpMediaKinds, type RoutableRequest } from './routable-request.ts';
import type { HeaderCondition, MatchConfig } from './rule-types.ts';

/** Returns the names of the failed conditions; an empty list means the request matches. */
/** `requestUri` is the current target: a retarget earlier in the chain changes what later rules see. */
export type CompiledMatch = (req: RoutableRequest, requestUri: string) => string[];

type Condition = { name: string; test: (req: RoutableRequest, requestUri: string) => boolean };

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

export function compileMatch(match: MatchConfig | undefined): CompiledMatch {
  const conditions: Condition[] = [];
  if (!match) return () => [];

  if (match.method !== undefined) {
    const methods = new Set(asList(match.method).map((m) => m.toUpperCase()));
    conditions.push({ name: 'method', test: (r) => methods.has(r.method.toUpperCase()) });
  }
  const uriCondition = (name: string, pattern: string | undefined, pick: (r: RoutableRequest, ruri: string) => string): void => {
    if (pattern === undefined) return;
    const m = compilePattern(pattern);
    conditions.push({ name, test: (r, ruri) => m(pick(r, ruri)) });
  };
  // URIs are matched as they compare (an escaped letter is that letter): sip:%70remium@ is premium.
  // From and To name a user: their pattern holds for the address-of-record (no URI parameters,
  // sips: as sip:) or for the whole URI, so `;user=phone` does not make bob someone else.
  const addressCondition = (name: string, pattern: string | undefined, header: string): void => {
    if (pattern === undefined) return;
    const m = addressMatcher(pattern);
    conditions.push({ name, test: (r) => m(headerUri(r.get(header))) });
  };
  addressCondition('from', match.from, 'from');
  addressCondition('to', match.to, 'to');
  // The Request-URI names a user as To does (a proxy adds `;user=phone` or `;transport=tcp`):
  // matched the same way, its address-of-record or the whole URI, after earlier retargets.
  if (match.requestUri !== undefined) {
    const m = addressMatcher(match.requestUri);
    conditions.push({ name: 'requestUri', test: (_r, ruri) => m(ruri) });
  }
  uriCondition('userAgent', match.userAgent, (r) => r.get('user-agent') ?? '');
  uriCondition('body', match.body, (r) => r.body ?? '');

  for (const [header, cond] of Object.entries(match.headers ?? {})) {
    conditions.push({ name: `headers.${header}`, test: compileHeader(header, cond) });
  }

  if (match.media !== undefined) {
    const wanted = new Set(asList(match.media));
    conditions.push({
      name: 'media',
      test: (r) => {
        const kinds = sdpMediaKinds(r.body, r.get('content-type'));
        // An INVITE without a body is a delayed offer (RFC 3261 §13.2.1): the UAS makes the
        // offer, so it is an audio call as much as one with no media (Parley offers audio).
        if (kinds.length === 0) return wanted.has('none') || (r.method === 'INVITE' && !r.body?.trim() && wanted.has('audio'));
        return kinds.some((k) => wanted.has(k as never));
      },
    });
  }

  if (match.source !== undefined) {
    const sources = asList(match.source).map(compileSource);
    conditions.push({ name: 'source', test: (r) => !!r.source_address && sources.some((s) => s(r.source_address!)) });
  }

  return (req, requestUri) => conditions.filter((c) => !c.test(req, requestUri)).map((c) => c.name);
}

function compileHeader(name: string, cond: HeaderCondition): (r: RoutableRequest) => boolean {
  if (typeof cond === 'string') {
    const m: Matcher = compilePattern(cond);
    return (r) => r.has(name) && m(r.get(name) ?? '');
  }
  if ('present' in cond) return (r) => r.has(name) === cond.present;
  if ('contains' in cond) {
    const needle = cond.contains.toLowerCase();
    return (r) => (r.get(name) ?? '').toLowerCase().includes(needle);
  }
  const m = compilePattern(`/${cond.regex}/i`);
  return (r) => r.has(name) && m(r.get(name) ?? '');
}

/**
 * A pattern over a user's URI (match.from, match.to, scope.user): it matches the URI's
 * address-of-record (see addressOfRecord) or the whole URI, escapes decoded.
 */
export function addressMatcher(pattern: string): Matcher {
  const m = compilePattern(pattern);
  return (uri) => m(addressOfRecord(uri)) || m(canonicalUri(uri));
}

// Where a callee's 3xx response sends a placed INVITE next (b2b-bridge.ts follows it).
import { sipFailure } from './dialog-util.ts';

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
  const angle = /<([^>]*)>/.exec(first);
  const uri = (angle ? angle[1]! : first.split(';')[0]!).trim();
  return /^(sips?|tel):[^\s?<>]+$/i.test(uri) ? uri : null;
}

// Header edits a rule may not make, refused at load naming the key: edits of the headers
// that frame the transaction and the dialog (RFC 3261 §8.1.1) or the body would have every
// request the rule takes answered 500, or sent out unparseable or looping. The relay writes
// those itself (src/signaling/header-edit-relay.ts); a proxy keeps the caller's.
import { parseNameAddr } from '../sip/message/header-values.ts';
import type { RoutingConfig } from './rule-types.ts';

/** Headers no edit may touch, by their long and compact names (RFC 3261 §7.3.3, §20), and why. */
export const FRAMING: Record<string, string> = {
  via: 'each hop writes its own Via',
  'call-id': 'the transaction and dialog are named by it',
  cseq: 'the transaction is numbered by it',
  'content-length': 'the length of the body as sent',
  'content-type': 'the type of the body as sent',
  'content-encoding': 'the coding of the body as sent',
  'max-forwards': 'loops end by it; the relay counts it down itself',
  route: 'the route is the proxy\'s or the dialog\'s',
  'record-route': 'the route is the proxy\'s or the dialog\'s',
  contact: 'the dialog\'s remote target (the relay writes its own)',
  rseq: 'reliable provisional responses are numbered by it',
  rack: 'reliable provisional responses are numbered by it',
  'x-parley-relay': 'Parley\'s own loop detection',
};
export const COMPACT: Record<string, string> = { v: 'via', i: 'call-id', l: 'content-length', c: 'content-type', e: 'content-encoding', m: 'contact', f: 'from', t: 'to' };
/** RFC 3261 §25.1 token. */
export const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export function headerEditChecks(routing: RoutingConfig): string[] {
  const problems: string[] = [];
  routing.rules.forEach((rule, i) =>
    rule.actions.forEach((a, j) => {
      if (!('headers' in a)) return;
      const at = `routing.rules.${i}.actions.${j}.headers`;
      const named: Array<[string, string, string | undefined]> = [
        ...(a.headers.remove ?? []).map((n, k): [string, string, undefined] => [`${at}.remove.${k}`, n, undefined]),
        ...Object.entries(a.headers.set ?? {}).map(([n, v]): [string, string, string] => [`${at}.set.${n}`, n, v]),
        ...Object.entries(a.headers.add ?? {}).map(([n, v]): [string, string, string] => [`${at}.add.${n}`, n, v]),
      ];
      for (const [key, name, value] of named) {
        const problem = editProblem(key.includes('.set.') ? 'set' : key.includes('.add.') ? 'add' : 'remove', name, value);
        if (problem) problems.push(`${key}: ${problem}`);
      }
    }),
  );
  return problems;
}

function editProblem(op: 'remove' | 'set' | 'add', name: string, value: string | undefined): string | null {
  if (!TOKEN.test(name)) return `'${name}' is not a header name (RFC 3261 token characters only)`;
  if (value !== undefined && /[\r\n\0]/.test(value)) return 'a header value may not hold CR, LF or NUL (it would write other headers)';
  const long = COMPACT[name.toLowerCase()] ?? name.toLowerCase();
  const why = FRAMING[long];
  if (why) return `${name} cannot be edited by a rule (${why})`;
  if (long === 'from' || long === 'to') {
    if (op !== 'set') return `${name} can only be set (a request has exactly one), not ${op === 'add' ? 'added' : 'removed'}`;
    return addressProblem(name, value ?? '');
  }
  return null;
}

/** A set From or To: one SIP, SIPS or tel URI, optionally in a name-addr, without a tag (the new leg has its own). */
function addressProblem(name: string, value: string): string | null {
  try {
    const a = parseNameAddr(value);
    if (!/^(sips?|tel):[^\s,]+$/i.test(a.uri)) return `${name} must be a sip:, sips: or tel: URI or a name-addr holding one, not '${value}'`;
    if ([...a.params.keys()].some((k) => k.toLowerCase() === 'tag')) return `${name} may not carry a tag (the relayed request has its own)`;
    return null;
  } catch {
    return `${name} must be a sip:, sips: or tel: URI or a name-addr holding one, not '${value}'`;
  }
}

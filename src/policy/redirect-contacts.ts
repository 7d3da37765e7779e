// The Contacts a `redirect` rule answers with (RFC 3261 §8.1.3.4, §20.10): each a SIP, SIPS
// or tel URI, bare or in a name-addr with contact parameters (`<sip:a@b>;q=0.5;expires=60`).
// A bare URI's `q` and `expires` are the Contact's (a q-value is never a URI parameter), its
// other parameters the URI's; it goes out in <>. Checked at load, naming the key; and a
// `respond` 3xx without a Contact, which redirects nowhere, is refused too.
import { COMPACT } from './header-edit-checks.ts';
import { parseNameAddr } from '../sip/message/header-values.ts';
import type { RoutingConfig } from './rule-types.ts';

const CONTACT_PARAMS = new Set(['q', 'expires']);
/** RFC 3261 §25.1 qvalue: 0 to 1 with up to three decimals. */
const QVALUE = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/;

/** A configured redirect contact as a Contact header value. */
export function redirectContact(contact: string): string {
  const c = contact.trim();
  if (c.includes('<')) return c;
  const [uri, ...params] = c.split(';');
  const own = params.filter((p) => CONTACT_PARAMS.has(p.split('=')[0]!.trim().toLowerCase()));
  const uriParams = params.filter((p) => !own.includes(p));
  return `<${[uri, ...uriParams].join(';')}>${own.map((p) => `;${p}`).join('')}`;
}

export function redirectChecks(routing: RoutingConfig): string[] {
  const problems: string[] = [];
  routing.rules.forEach((rule, i) =>
    rule.actions.forEach((a, j) => {
      const at = `routing.rules.${i}.actions.${j}`;
      if ('redirect' in a) {
        a.redirect.contacts.forEach((c, k) => {
          const problem = contactProblem(c);
          if (problem) problems.push(`${at}.redirect.contacts.${k}: ${problem}`);
        });
      }
      if ('respond' in a && a.respond.status >= 300 && a.respond.status < 400) {
        const contact = Object.entries(a.respond.headers ?? {}).some(([n, v]) => (COMPACT[n.toLowerCase()] ?? n.toLowerCase()) === 'contact' && v.trim() !== '');
        if (!contact) problems.push(`${at}.respond.status: a ${a.respond.status} redirects to its Contact and this one has none; use redirect: { contacts } (or give respond.headers a Contact)`);
      }
    }),
  );
  return problems;
}

function contactProblem(contact: string): string | null {
  if (/[\r\n\0]/.test(contact)) return 'a contact may not hold CR, LF or NUL';
  let value: ReturnType<typeof parseNameAddr>;
  try {
    value = parseNameAddr(redirectContact(contact));
  } catch {
    return `'${contact}' is not a URI or a name-addr`;
  }
  if (!/^(sips?|tel):[^\s,]+$/i.test(value.uri)) return `'${contact}' must be a sip:, sips: or tel: URI or a name-addr holding one`;
  for (const [name, v] of value.params) {
    const key = name.toLowerCase();
    if (key === 'q' && !QVALUE.test(v ?? '')) return `q=${v ?? ''} is not a q-value (0 to 1, up to three decimals)`;
    if (key === 'expires' && !/^\d{1,10}$/.test(v ?? '')) return `expires=${v ?? ''} is not a number of seconds`;
  }
  return null;
}

// The URIs a rule chain sends requests to (retarget, proxy targets, defaultRoute), checked
// at load naming the key: the schema only asks for a sip:, sips: or tel: scheme, so a port
// outside 1–65535 (sip:a@host:99999) loaded and failed every request the rule took.
import type { RoutingConfig } from './rule-types.ts';

/** The port of a SIP or SIPS URI's hostport (RFC 3261 §25.1), null when it has none. */
function portOf(uri: string): string | null {
  const m = /^sips?:(?:[^@;?]*@)?(?:\[[^\]]*\]|[^:;?]*)(?::([^;?]*))?/i.exec(uri);
  return m?.[1] ?? null;
}

function uriProblem(uri: string): string | null {
  const port = portOf(uri);
  if (port === null) return null;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `'${uri}': port ${port} is not a port (1 to 65535)`;
  return null;
}

export function targetChecks(routing: RoutingConfig): string[] {
  const problems: string[] = [];
  const check = (key: string, uri: string | null | undefined): void => {
    const problem = uri ? uriProblem(uri) : null;
    if (problem) problems.push(`${key}: ${problem}`);
  };
  check('routing.defaultRoute', routing.defaultRoute);
  routing.rules.forEach((rule, i) =>
    rule.actions.forEach((a, j) => {
      const at = `routing.rules.${i}.actions.${j}`;
      if ('retarget' in a) check(`${at}.retarget`, a.retarget);
      if ('proxy' in a) (a.proxy?.targets ?? []).forEach((t, k) => check(`${at}.proxy.targets.${k}`, t));
    }),
  );
  return problems;
}

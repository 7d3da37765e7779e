// Status codes a config may say that Parley could not send: drachtio-srf sends only the
// codes of its table (the sip-status package: 603 but not 699, of 3xx only 300, 301,
// 302, 305 and 380) and throws on any other, so a rule answering 699 would have answered
// every request it took with a 500. Checked at load, naming the key.
import { createRequire } from 'node:module';
import type { FlowsConfig } from '../call/flow-types.ts';
import type { RoutingConfig } from '../policy/rule-types.ts';

const fromSrf = createRequire(createRequire(import.meta.url).resolve('drachtio-srf'));
const KNOWN = new Set(Object.keys(fromSrf('sip-status') as Record<string, string>).map(Number));

export function statusChecks(routing: RoutingConfig, flows: FlowsConfig): string[] {
  const problems: string[] = [];
  const check = (key: string, status: number | undefined): void => {
    if (status !== undefined && !KNOWN.has(status)) {
      const near = [...KNOWN].filter((s) => Math.floor(s / 100) === Math.floor(status / 100));
      problems.push(`${key}: ${status} is not a status Parley can send (of ${Math.floor(status / 100)}xx: ${near.join(', ')})`);
    }
  };
  check('routing.declineStatus', routing.declineStatus);
  routing.rules.forEach((rule, i) =>
    rule.actions.forEach((a, j) => {
      if ('respond' in a) check(`routing.rules.${i}.actions.${j}.respond.status`, a.respond.status);
      // A 2xx to an INVITE would need an SDP answer (RFC 3264 §5) and makes a dialog nobody serves.
      const methods = rule.match?.method === undefined ? null : (Array.isArray(rule.match.method) ? rule.match.method : [rule.match.method]).map((m) => m.toUpperCase());
      if ('respond' in a && a.respond.status < 300 && (methods === null || methods.includes('INVITE'))) {
        problems.push(`routing.rules.${i}.actions.${j}.respond.status: ${a.respond.status} would answer an INVITE with no SDP and a dialog nobody serves; give the rule match.method without INVITE (OPTIONS, MESSAGE), or answer INVITEs with an app`);
      }
      if ('redirect' in a) check(`routing.rules.${i}.actions.${j}.redirect.status`, a.redirect.status);
    }),
  );
  for (const [name, steps] of Object.entries(flows)) {
    steps.forEach((step, k) => {
      if ('hangup' in step && step.hangup) check(`flows.${name}.${k}.hangup.status`, step.hangup.status);
    });
  }
  return problems;
}

// `parley route --dry-run FILE`: reads a SIP request, runs the configured rule
// chain over it and prints which rules matched and what the chain would do.
import { readFileSync } from 'node:fs';
import type { ParleyConfig } from '../config/schema.ts';
import { RuleChain } from '../policy/rule-chain.ts';
import type { RouteDecision } from '../policy/rule-types.ts';
import { parseSipRequest } from '../signaling/sip-text.ts';

export interface DryRunOptions {
  file: string;
  source?: string;
  workflow?: string;
  json: boolean;
}

export function routeDryRun(config: ParleyConfig, options: DryRunOptions): string {
  const text = options.file === '-' ? readFileSync(0, 'utf8') : readFileSync(options.file, 'utf8');
  const req = parseSipRequest(text, options.source);
  const decision = new RuleChain(config.routing).evaluate(req, { workflow: options.workflow });
  return options.json ? JSON.stringify(decision, null, 2) : describeDecision(req.method, req.uri, decision);
}

function describeDecision(method: string, uri: string, d: RouteDecision): string {
  const out = [`${method} ${uri}`];
  if (d.loopMarked) out.push('  carries the loop marker: no app will take it');
  for (const t of d.trace) {
    const mark = t.result === 'matched' ? '✔' : '·';
    let line = `  ${mark} ${t.rule}: ${t.result}`;
    if (t.failed?.length) line += ` (failed: ${t.failed.join(', ')})`;
    out.push(line);
    for (const a of t.actions ?? []) out.push(`      → ${a}`);
  }
  if (d.requestUri !== uri) out.push(`  Request-URI becomes ${d.requestUri}`);
  // Edits apply to a request sent on (proxy); a flow's legs are requests of its own (README, Routing rules).
  const unused = d.outcome.kind !== 'proxy' && d.headerEdits.length > 0;
  if (unused) out.push(`  header edits not applied: ${d.outcome.kind === 'app' ? 'a flow takes the request and places its own legs' : 'the request is answered, not sent on'}`);
  for (const e of d.headerEdits) out.push(`  ${unused ? '(not applied) ' : ''}header ${e.op} ${e.name}${e.value !== undefined ? `: ${e.value}` : ''}`);
  const o = d.outcome;
  const by = d.decidedBy ? `rule '${d.decidedBy}'` : 'the default (proxyByDefault)';
  switch (o.kind) {
    case 'proxy':
      out.push(`  result: proxy (${o.mode}${o.recordRoute ? ', record-route' : ''}) to ${o.targets.join(', ')} — by ${by}`);
      break;
    case 'redirect':
      out.push(`  result: ${o.status} redirect to ${o.contacts.join(', ')} — by ${by}`);
      break;
    case 'respond':
      out.push(`  result: respond ${o.status}${o.reason ? ' ' + o.reason : ''} — by ${by}`);
      break;
    case 'app':
      out.push(`  result: run flow '${o.flow}' — by ${by}`);
      break;
  }
  return out.join('\n');
}

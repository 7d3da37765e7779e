// Reads the YAML configuration, merges it over the defaults and validates it.
// Every problem is reported with the dotted key it concerns, so that a user can
// find it in the file: "media.rtpPortRange.max: must be <= 65535".
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { compileSource } from '../policy/pattern.ts';
import { RuleChain } from '../policy/rule-chain.ts';
import { danglingFlowReferences, siprecPlacement, digitInputProblems } from './flows-schema.ts';
import { mediaAddressChecks } from './media-schema.ts';
import { recordingStoreChecks } from './recording-store-schema.ts';
import { siprecChecks } from './siprec-schema.ts';
import { statusChecks } from './status-checks.ts';
import { headerEditChecks } from '../policy/header-edit-checks.ts';
import { respondChecks } from '../policy/respond-checks.ts';
import { redirectChecks } from '../policy/redirect-contacts.ts';
import { targetChecks } from '../policy/target-checks.ts';
import { validateConfig as validate } from './config-validator.ts';
import { defaultClusterTuning, defaultConfig, type ParleyConfig } from './schema.ts';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration in ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Where the config comes from: `--config FILE`, else $PARLEY_CONFIG, else ./parley.yaml. */
export function configPath(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const i = argv.findIndex((a) => a === '--config' || a === '-c');
  if (i >= 0) {
    const value = argv[i + 1];
    if (!value) throw new ConfigError('(command line)', ['--config: needs a file path']);
    return resolve(value);
  }
  const eq = argv.find((a) => a.startsWith('--config='));
  if (eq) return resolve(eq.slice('--config='.length));
  return resolve(env.PARLEY_CONFIG ?? 'parley.yaml');
}

export function loadConfigFile(file: string): ParleyConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // The default is ./parley.yaml of the current folder: from elsewhere, say how to name one.
    const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ' (name the file with --config FILE or PARLEY_CONFIG, or run from the folder that holds parley.yaml)' : '';
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}${hint}`]);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file = '(inline)'): ParleyConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML syntax (line ${e.linePos?.[0].line ?? '?'}): ${e.message.split('\n')[0]}`),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (!isPlainObject(raw)) throw new ConfigError(file, ['(top level): must be a mapping of keys']);
  const merged = mergeDefaults(defaultConfig, raw);
  if (isPlainObject(merged.cluster)) merged.cluster = mergeDefaults({ ...defaultClusterTuning }, merged.cluster) as typeof merged.cluster;
  normalizeFlows(merged);
  if (!validate(merged)) throw new ConfigError(file, summarize(validate.errors ?? []));
  const problems = crossChecks(merged);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return merged;
}

/** `- answer`, `- hangup` and `- siprec` are shorthand for steps without parameters. */
function normalizeFlows(c: ParleyConfig): void {
  if (!isPlainObject(c.flows)) return;
  for (const steps of Object.values(c.flows as Record<string, unknown>)) {
    if (!Array.isArray(steps)) continue;
    steps.forEach((s, i) => {
      if (s === 'answer' || s === 'hangup' || s === 'siprec') steps[i] = { [s]: null };
    });
  }
}

function crossChecks(c: ParleyConfig): string[] {
  const problems: string[] = [];
  if (c.api.enabled && !c.api.token && c.api.tokens.length === 0) problems.push('api.token: required when api.enabled is true (at least 16 characters), unless api.tokens names some');
  const tokenNames = new Set<string>(c.api.token ? ['default'] : []);
  const tokenValues = new Set<string>(c.api.token ? [c.api.token] : []);
  c.api.tokens.forEach((t, i) => {
    if (tokenNames.has(t.name)) problems.push(`api.tokens.${i}.name: '${t.name}' is used twice (api.token is named 'default')`);
    if (tokenValues.has(t.token)) problems.push(`api.tokens.${i}.token: the same token as another one`);
    tokenNames.add(t.name);
    tokenValues.add(t.token);
  });
  if (c.media.webrtc.portRange.min > c.media.webrtc.portRange.max) {
    problems.push('media.webrtc.portRange.min: must not be above media.webrtc.portRange.max');
  }
  if (c.media.rtpPortRange.min > c.media.rtpPortRange.max) {
    problems.push('media.rtpPortRange.min: must not be above media.rtpPortRange.max');
  }
  problems.push(...mediaAddressChecks(c.media));
  if (c.media.mixer.jitterMinMs > c.media.mixer.jitterMaxMs) {
    problems.push('media.mixer.jitterMinMs: must not be above media.mixer.jitterMaxMs');
  }
  if (c.cluster && c.cluster.nodeTtlMs <= c.cluster.heartbeatMs) problems.push('cluster.nodeTtlMs: must be above cluster.heartbeatMs (an entry must outlive a refresh)');
  if (c.cluster && c.cluster.leaseMs <= c.cluster.heartbeatMs) problems.push('cluster.leaseMs: must be above cluster.heartbeatMs (a lease must outlive a renewal)');
  if (c.cluster && !c.api.enabled) problems.push('cluster: needs api.enabled (nodes forward actions to each other through the API)');
  if (c.sip.timers.t1 > c.sip.timers.t2) problems.push('sip.timers.t1: must not be above sip.timers.t2');
  if (c.sip.server === 'embedded' && c.sip.listen.length === 0) {
    problems.push('sip.listen: the embedded server needs at least one transport');
  }
  c.sip.listen.forEach((l, i) => {
    if (l.requireClientCert && !l.ca) problems.push(`sip.listen.${i}.ca: required when requireClientCert is true (the CAs client certificates must chain to)`);
  });
  problems.push(...recordingStoreChecks(c.recording));
  problems.push(...siprecChecks(c.siprec, c.sip.maxMessageSize));
  problems.push(...danglingFlowReferences(c.flows));
  problems.push(...siprecPlacement(c.flows));
  problems.push(...digitInputProblems(c.flows));
  problems.push(...statusChecks(c.routing, c.flows));
  problems.push(...headerEditChecks(c.routing));
  problems.push(...respondChecks(c.routing));
  problems.push(...redirectChecks(c.routing));
  problems.push(...targetChecks(c.routing));
  c.routing.rules.forEach((rule, i) =>
    rule.actions.forEach((a, j) => {
      if ('app' in a && !(a.app in c.flows) && a.app !== 'siprec') problems.push(`routing.rules.${i}.actions.${j}.app: no flow named '${a.app}'`);
    }),
  );
  c.security.upstreams.forEach((u, i) => {
    try {
      compileSource(u);
    } catch (err) {
      problems.push(`security.upstreams.${i}: ${(err as Error).message}`);
    }
  });
  try {
    new RuleChain(c.routing);
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

/**
 * One line per problem. A failed `oneOf` speaks for its alternatives, unless one
 * alternative fitted the shape and failed deeper inside: then those deeper
 * errors are the ones that help ("flows.f.0.play.tone: must match …").
 */
function summarize(errors: ErrorObject[]): string[] {
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  const under = (e: ErrorObject, o: ErrorObject): boolean => e.schemaPath.startsWith(o.schemaPath + '/');
  const deeper = (e: ErrorObject, o: ErrorObject): boolean => e.instancePath.length > o.instancePath.length;
  const kept = errors.filter((e) => {
    if (e.keyword === 'if') return false; // its then/else branch said what was wrong
    if (e.keyword === 'oneOf' && errors.some((x) => under(x, e) && deeper(x, e))) return false;
    return !oneOfs.some((o) => under(e, o) && !deeper(e, o));
  });
  return [...new Set(kept.map(describe))];
}

function describe(e: ErrorObject): string {
  const key = e.instancePath.slice(1).replace(/\//g, '.') || '(top level)';
  switch (e.keyword) {
    case 'additionalProperties':
      return `${key === '(top level)' ? '' : key + '.'}${String(e.params.additionalProperty)}: unknown key`;
    case 'enum':
      return `${key}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'not':
    case 'oneOf': {
      // A oneOf carries its own wording in `description`.
      const what = (e.parentSchema as { description?: string } | undefined)?.description;
      return `${key}: must be ${what ?? 'one of the allowed forms'}`;
    }
    default:
      return `${key}: ${e.message ?? 'is invalid'}`;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars from the file replace the default. */
function mergeDefaults<T>(defaults: T, override: unknown): T {
  if (!isPlainObject(defaults) || !isPlainObject(override)) {
    return (override === undefined ? defaults : override) as T;
  }
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(override)) {
    out[k] = k in defaults ? mergeDefaults((defaults as Record<string, unknown>)[k], v) : v;
  }
  return out as T;
}

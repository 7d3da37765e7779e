// The rule chain: rules run in order; `retarget` and `headers` let later rules
// run, `proxy`, `redirect`, `respond` and `app` end the chain. What no rule
// takes is proxied on or declined, as `proxyByDefault` says (MSPL's attribute of
// the same name). Only out-of-dialog requests are routed: call control never
// hands an in-dialog request to the chain.
import { addressMatcher, compileMatch, type CompiledMatch } from './compile-match.ts';
import type { Matcher } from './pattern.ts';
import { addressOfRecord, headerUri, type RoutableRequest } from './routable-request.ts';
import type {
  ActionConfig,
  HeaderEdit,
  RouteDecision,
  RouteOutcome,
  RoutingConfig,
  RuleConfig,
  TraceEntry,
} from './rule-types.ts';

export interface EvaluateOptions {
  /** The workflow the request is routed for, for rules scoped to one workflow. */
  workflow?: string;
}

interface CompiledRule {
  readonly config: RuleConfig;
  readonly match: CompiledMatch;
  readonly user: Matcher | null;
}

/** Per-rule switches that override `enabled` from the config: for everyone, or for one user. */
export interface RuleSwitches {
  global: Record<string, boolean>;
  /** rule name → user URI → enabled */
  perUser: Record<string, Record<string, boolean>>;
}

export class RuleChain {
  private readonly rules: CompiledRule[];
  private switches: RuleSwitches = { global: {}, perUser: {} };

  /** `isMarked`: whether a request is one of Parley's legs come back (LoopMarker.admit, given the marker header's value, the Call-ID and the From); without it (the dry run) the header's first token is compared. */
  constructor(
    readonly config: RoutingConfig,
    private readonly isMarked?: (raw: string | undefined, callId: string | undefined, from: string | undefined) => boolean,
  ) {
    const names = new Set<string>();
    this.rules = config.rules.map((rule, i) => {
      if (names.has(rule.name)) throw new Error(`routing.rules.${i}.name: duplicate rule name '${rule.name}'`);
      names.add(rule.name);
      try {
        return {
          config: rule,
          match: compileMatch(rule.match),
          user: rule.scope?.user ? addressMatcher(rule.scope.user) : null,
        };
      } catch (err) {
        throw new Error(`routing.rules.${i}.match: ${(err as Error).message}`);
      }
    });
  }

  get ruleNames(): string[] {
    return this.rules.map((r) => r.config.name);
  }

  getSwitches(): RuleSwitches {
    return structuredClone(this.switches);
  }

  setSwitches(switches: RuleSwitches): void {
    this.switches = structuredClone(switches);
    // Switches saved before users were keyed by their address-of-record.
    for (const [rule, users] of Object.entries(this.switches.perUser)) {
      this.switches.perUser[rule] = Object.fromEntries(Object.entries(users).map(([u, on]) => [normalizeUser(u), on]));
    }
  }

  /** Switches a rule on or off for everyone, or (with `user`) for requests to that user only. */
  setEnabled(name: string, enabled: boolean, user?: string): void {
    if (!this.ruleNames.includes(name)) throw new Error(`no rule named '${name}'`);
    if (user) (this.switches.perUser[name] ??= {})[normalizeUser(user)] = enabled;
    else this.switches.global[name] = enabled;
  }

  /** Whether a rule runs for a request addressed to `user`: per-user switch, else global, else config. */
  isEnabled(rule: RuleConfig, user: string): boolean {
    const mine = this.switches.perUser[rule.name]?.[normalizeUser(user)];
    if (mine !== undefined) return mine;
    return this.switches.global[rule.name] ?? rule.enabled ?? true;
  }

  evaluate(req: RoutableRequest, options: EvaluateOptions = {}): RouteDecision {
    const trace: TraceEntry[] = [];
    const headerEdits: HeaderEdit[] = [];
    let requestUri = req.uri;
    const toUser = headerUri(req.get('to'));
    const marker = this.config.loopMarker;
    const raw = req.get(marker.header);
    const loopMarked = this.isMarked ? this.isMarked(raw, req.get('call-id'), req.get('from')) : (raw ?? '').split(',').some((v) => v.split(';')[0]!.trim() === marker.value);

    for (const rule of this.rules) {
      const name = rule.config.name;
      if (!this.isEnabled(rule.config, toUser)) {
        trace.push({ rule: name, result: 'disabled' });
        continue;
      }
      const scope = rule.config.scope;
      if ((scope?.workflow && scope.workflow !== options.workflow) || (rule.user && !rule.user(toUser))) {
        trace.push({ rule: name, result: 'out-of-scope' });
        continue;
      }
      const failed = rule.match(req, requestUri);
      if (failed.length > 0) {
        trace.push({ rule: name, result: 'no-match', failed });
        continue;
      }
      const entry: TraceEntry = { rule: name, result: 'matched', actions: [] };
      trace.push(entry);
      for (const action of rule.config.actions) {
        const outcome = this.apply(action, requestUri, headerEdits, loopMarked);
        entry.actions!.push(describeAction(action, loopMarked));
        if (outcome === 'skip') continue;
        if (typeof outcome === 'string') {
          requestUri = outcome;
          continue;
        }
        if (outcome) return { outcome, requestUri, headerEdits, decidedBy: name, loopMarked, trace };
      }
    }
    return { outcome: this.byDefault(requestUri), requestUri, headerEdits, decidedBy: null, loopMarked, trace };
  }

  /** A terminal outcome, a new Request-URI (retarget), or undefined to go on. */
  private apply(
    action: ActionConfig,
    requestUri: string,
    edits: HeaderEdit[],
    loopMarked: boolean,
  ): RouteOutcome | string | undefined | 'skip' {
    if ('retarget' in action) return action.retarget;
    if ('headers' in action) {
      const h = action.headers;
      for (const name of h.remove ?? []) edits.push({ op: 'remove', name });
      for (const [name, value] of Object.entries(h.set ?? {})) edits.push({ op: 'set', name, value });
      for (const [name, value] of Object.entries(h.add ?? {})) edits.push({ op: 'add', name, value });
      return undefined;
    }
    if ('proxy' in action) {
      const p = action.proxy ?? {};
      const targets = p.targets?.length ? p.targets : [this.config.defaultRoute ?? requestUri];
      return { kind: 'proxy', targets, mode: p.mode ?? 'serial', recordRoute: p.recordRoute ?? false };
    }
    if ('redirect' in action) {
      return { kind: 'redirect', status: action.redirect.status ?? 302, contacts: action.redirect.contacts };
    }
    if ('respond' in action) {
      const r = action.respond;
      return { kind: 'respond', status: r.status, reason: r.reason, headers: r.headers ?? {} };
    }
    // An app never takes a request that Parley itself placed: that is how a B leg
    // passes back through an upstream proxy that reroutes INVITEs to Parley.
    if (loopMarked) return 'skip';
    return action.bridgeTo ? { kind: 'app', flow: action.app, bridgeTo: action.bridgeTo } : { kind: 'app', flow: action.app };
  }

  private byDefault(requestUri: string): RouteOutcome {
    if (this.config.proxyByDefault) {
      return { kind: 'proxy', targets: [this.config.defaultRoute ?? requestUri], mode: 'serial', recordRoute: false };
    }
    return { kind: 'respond', status: this.config.declineStatus, reason: undefined, headers: {} };
  }
}

function describeAction(action: ActionConfig, loopMarked: boolean): string {
  const [kind, value] = Object.entries(action)[0] as [string, unknown];
  if (kind === 'app' && loopMarked) return `app ${String(value)} (skipped: loop marker)`;
  return value === null || value === undefined ? kind : `${kind} ${JSON.stringify(value)}`;
}

/** A per-user switch's key: the user's address-of-record (URI parameters do not make another user), in lower case. */
function normalizeUser(uri: string): string {
  return addressOfRecord(headerUri(uri)).toLowerCase();
}

// The rule chain and the flows in force. A reload swaps both at once, keeping
// the rule switches; calls already running keep the flow objects they started
// with, so a reload never touches a call in progress.
import type { FlowsConfig } from '../call/flow-types.ts';
import { randomBytes } from 'node:crypto';
import { LoopMarker } from './loop-marker.ts';
import { RuleChain } from './rule-chain.ts';
import type { RoutingConfig } from './rule-types.ts';

export class RoutingTable {
  private chainInForce: RuleChain;
  private flowsInForce: FlowsConfig;
  private rulesInForce: RoutingConfig['rules'];
  private generationNo = 1;

  /** What Parley puts on the legs it places (sealed onto each leg as it is placed), and what the chain checks. */
  readonly marker: LoopMarker;

  /** `markerKey`: the loop marker's HMAC key (LoopMarker.keyFor); random by default. */
  constructor(routing: RoutingConfig, flows: FlowsConfig, markerKey: Buffer = randomBytes(32)) {
    this.marker = new LoopMarker(routing.loopMarker, markerKey);
    this.chainInForce = new RuleChain(routing, this.isMarked);
    this.flowsInForce = flows;
    this.rulesInForce = routing.rules;
  }

  private readonly isMarked = (raw: string | undefined, callId: string | undefined, from: string | undefined): boolean => this.marker.admit(raw, callId, from);

  get chain(): RuleChain {
    return this.chainInForce;
  }

  get flows(): FlowsConfig {
    return this.flowsInForce;
  }

  /** Increases with every reload, so logs can say which version routed a request. */
  get generation(): number {
    return this.generationNo;
  }

  /** Swaps in a validated config; switches of rules that still exist carry over. */
  replace(routing: RoutingConfig, flows: FlowsConfig): void {
    const next = new RuleChain(routing, this.isMarked);
    const old = this.chainInForce.getSwitches();
    const names = new Set(next.ruleNames);
    next.setSwitches({
      global: Object.fromEntries(Object.entries(old.global).filter(([n]) => names.has(n))),
      perUser: Object.fromEntries(Object.entries(old.perUser).filter(([n]) => names.has(n))),
    });
    this.chainInForce = next;
    this.flowsInForce = flows;
    this.rulesInForce = routing.rules;
    this.generationNo++;
  }

  /** The rule (by name) that decided a call, with the retention it sets for the call's recordings. */
  ruleOf(name: string | null): { name: string | null; retentionDays: number | null } {
    const rule = name === null ? undefined : this.rulesInForce.find((r) => r.name === name);
    return { name, retentionDays: rule?.retention?.days ?? null };
  }
}

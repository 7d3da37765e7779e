// The rule chain and the flows in force. A reload swaps both at once, keeping
// the rule switches; calls already running keep the flow objects they started
// with, so a reload never touches a call in progress.
import type { FlowsConfig } from '../call/flow-types.ts';
import { RuleChain } from './rule-chain.ts';
import type { RoutingConfig } from './rule-types.ts';

export class RoutingTable {
  private chainInForce: RuleChain;
  private flowsInForce: FlowsConfig;
  private generationNo = 1;

  constructor(routing: RoutingConfig, flows: FlowsConfig) {
    this.chainInForce = new RuleChain(routing);
    this.flowsInForce = flows;
  }

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
    const next = new RuleChain(routing);
    const old = this.chainInForce.getSwitches();
    const names = new Set(next.ruleNames);
    next.setSwitches({
      global: Object.fromEntries(Object.entries(old.global).filter(([n]) => names.has(n))),
      perUser: Object.fromEntries(Object.entries(old.perUser).filter(([n]) => names.has(n))),
    });
    this.chainInForce = next;
    this.flowsInForce = flows;
    this.generationNo++;
  }
}

// Rule switches set through the API, kept in a JSON file so that they survive
// a restart: read once at start (switches of rules no longer in the chain are
// dropped), written after every change (to a temporary file, then renamed, so
// a crash never leaves half a file).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RoutingTable } from '../policy/routing-table.ts';
import type { RuleSwitches } from '../policy/rule-chain.ts';
import type { Logger } from '../util/logger.ts';

export class RuleStateStore {
  constructor(
    private readonly file: string,
    private readonly routing: RoutingTable,
    private readonly log: Logger,
  ) {}

  /** Applies the saved switches to the chain in force. A missing file is no switches. */
  restore(): void {
    let saved: RuleSwitches;
    try {
      saved = JSON.parse(readFileSync(this.file, 'utf8')) as RuleSwitches;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, file: this.file }, 'rule state unreadable; starting without switches');
      return;
    }
    const names = new Set(this.routing.chain.ruleNames);
    const keep = <T>(o: Record<string, T> | undefined): Record<string, T> =>
      Object.fromEntries(Object.entries(o ?? {}).filter(([n]) => names.has(n)));
    this.routing.chain.setSwitches({ global: keep(saved.global), perUser: keep(saved.perUser) });
    this.log.info({ file: this.file }, 'rule switches restored');
  }

  /** Switches a rule (throws when there is no such rule) and saves every switch. */
  set(name: string, enabled: boolean, user?: string): void {
    this.routing.chain.setEnabled(name, enabled, user);
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.routing.chain.getSwitches(), null, 2) + '\n');
    renameSync(tmp, this.file);
  }
}

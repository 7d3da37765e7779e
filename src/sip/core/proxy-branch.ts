// One target of a stateful proxy operation (RFC 3261 §16.6): its client transaction and timers.
import type { ClientTransaction } from '../transaction/transaction-layer.ts';
import type { SipMessage } from '../message/sip-message.ts';
import type { Endpoint } from '../transport/transport-types.ts';

export type BranchState = 'trying' | 'proceeding' | 'done';

export class ProxyBranch {
  state: BranchState = 'trying';
  txn: ClientTransaction | null = null;
  request: SipMessage | null = null;
  dest: Endpoint | null = null;
  /** Provisional timeout: no 1xx in time → give up on this target. */
  timerProvisional: NodeJS.Timeout | null = null;
  /** Final timeout: no final response in time → CANCEL this target. */
  timerFinal: NodeJS.Timeout | null = null;
  cancelled = false;
  /** A CANCEL went out for this branch (once, §9.1). */
  cancelSent = false;

  constructor(readonly target: string) {}

  clearTimers(): void {
    if (this.timerProvisional) clearTimeout(this.timerProvisional);
    if (this.timerFinal) clearTimeout(this.timerFinal);
    this.timerProvisional = this.timerFinal = null;
  }
}

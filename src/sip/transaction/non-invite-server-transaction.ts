// Non-INVITE server transaction, RFC 3261 §17.2.2.
import { SipMessage } from '../message/sip-message.ts';
import { GuardedState } from './guarded-state.ts';
import { timerValues, type TimerSettings } from './timer-values.ts';
import { Transaction } from './transaction-base.ts';
import type { ServerTxnUser, TxnSend } from './transaction-types.ts';

export type NistState = 'trying' | 'proceeding' | 'completed' | 'terminated';

const LEGAL: Record<NistState, NistState[]> = {
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['proceeding', 'completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

export class NonInviteServerTransaction extends Transaction<NistState> {
  readonly state = new GuardedState<NistState>('trying', LEGAL, 'NIST');
  private timerJ: NodeJS.Timeout | null = null;
  private lastResponse: SipMessage | null = null;

  /**
   * The request is not kept: nothing reads it after matching, and over UDP a completed
   * transaction lives 64*T1 (timer J) after its final response.
   */
  constructor(request: SipMessage, send: TxnSend, reliable: boolean, timers: TimerSettings, user: ServerTxnUser) {
    super(send, reliable, timers, user);
  }

  get finalSent(): boolean {
    return this.state.is('completed', 'terminated');
  }

  get lastStatus(): number {
    return this.lastResponse?.status ?? 0;
  }

  respond(res: SipMessage): void {
    if (!this.state.is('trying', 'proceeding')) throw new Error(`NIST: cannot send ${res.status} in state ${this.state.value}`);
    this.lastResponse = res;
    if (!this.transmit(res)) return;
    if (res.status < 200) {
      this.state.transition('proceeding');
      return;
    }
    this.state.transition('completed');
    // Completed only replays the final response: keep its bytes, not the parsed message (whose
    // header values hold the request's text) for the 32 s of timer J.
    this.lastResponse = SipMessage.wireOnly(res.status, res.reason, res.toBuffer());
    this.timerJ = setTimeout(() => this.terminate(), timerValues(this.timers, this.reliable).J);
  }

  /** §17.2.2: a retransmitted request is absorbed while trying, answered with the last response after. */
  receiveRetransmission(): void {
    if (this.state.is('proceeding', 'completed') && this.lastResponse) {
      try {
        this.send(this.lastResponse);
      } catch {
        // a failed retransmission changes nothing; timer J still ends the transaction
      }
    }
  }

  protected clearTimers(): void {
    if (this.timerJ) clearTimeout(this.timerJ);
    this.timerJ = null;
  }
}

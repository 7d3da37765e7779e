// Non-INVITE client transaction, RFC 3261 §17.1.2.
import type { SipMessage } from '../message/sip-message.ts';
import { GuardedState } from './guarded-state.ts';
import { timerValues, type TimerSettings } from './timer-values.ts';
import { clearAll, Transaction } from './transaction-base.ts';
import type { ClientTxnUser, TxnSend } from './transaction-types.ts';

export type NictState = 'trying' | 'proceeding' | 'completed' | 'terminated';

const LEGAL: Record<NictState, NictState[]> = {
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['proceeding', 'completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

export class NonInviteClientTransaction extends Transaction<NictState> {
  readonly state = new GuardedState<NictState>('trying', LEGAL, 'NICT');
  private timerF: NodeJS.Timeout | null = null;
  private timerK: NodeJS.Timeout | null = null;
  private intervalE: number;

  constructor(
    readonly request: SipMessage,
    send: TxnSend,
    reliable: boolean,
    timers: TimerSettings,
    protected override readonly user: ClientTxnUser,
  ) {
    super(send, reliable, timers, user);
    this.intervalE = timers.t1;
  }

  start(): void {
    if (!this.transmit(this.request)) return;
    if (!this.reliable) this.armRetransmit(this.intervalE, () => this.onTimerE());
    this.timerF = setTimeout(() => this.onTimerF(), timerValues(this.timers, this.reliable).txnTimeout);
  }

  /** Timer E (armed through armRetransmit: never ahead of a final response already received). */
  private onTimerE(): void {
    if (!this.state.is('trying', 'proceeding')) return;
    if (!this.transmit(this.request)) return;
    // §17.1.2.2: doubling up to T2 while trying; T2 once a provisional arrived.
    this.intervalE = this.state.is('trying') ? Math.min(2 * this.intervalE, this.timers.t2) : this.timers.t2;
    this.armRetransmit(this.intervalE, () => this.onTimerE());
  }

  private onTimerF(): void {
    this.timerF = null;
    if (!this.state.is('trying', 'proceeding')) return;
    this.terminate();
    this.user.onTimeout();
  }

  receiveResponse(res: SipMessage): void {
    if (!this.state.is('trying', 'proceeding')) return; // completed absorbs retransmissions
    if (res.status < 200) {
      this.state.transition('proceeding');
      this.user.onResponse(res);
      return;
    }
    this.clearRetransmit();
    clearAll(this.timerF);
    this.timerF = null;
    this.state.transition('completed');
    // Timer K first: a user that throws on the response must not leave us without an end.
    this.timerK = setTimeout(() => this.terminate(), timerValues(this.timers, this.reliable).K);
    this.user.onResponse(res);
  }

  /** A transport failure found after the send returned (a refused TCP connect). */
  transportError(err: Error): void {
    if (this.state.is('terminated', 'completed')) return;
    this.terminate();
    this.user.onTransportError(err);
  }

  protected clearTimers(): void {
    clearAll(this.timerF, this.timerK);
    this.timerF = this.timerK = null;
  }
}

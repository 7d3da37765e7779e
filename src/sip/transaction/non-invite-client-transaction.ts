// Non-INVITE client transaction, RFC 3261 §17.1.2.
import type { SipMessage } from '../message/sip-message.ts';
import { GuardedState } from './guarded-state.ts';
import { timerValues, type TimerSettings } from './timer-values.ts';
import type { ClientTxnUser, TxnSend } from './transaction-types.ts';

export type NictState = 'trying' | 'proceeding' | 'completed' | 'terminated';

const LEGAL: Record<NictState, NictState[]> = {
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['proceeding', 'completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

export class NonInviteClientTransaction {
  readonly state = new GuardedState<NictState>('trying', LEGAL, 'NICT');
  private timerE: NodeJS.Timeout | null = null;
  private timerF: NodeJS.Timeout | null = null;
  private timerK: NodeJS.Timeout | null = null;
  private intervalE: number;

  constructor(
    readonly request: SipMessage,
    private readonly send: TxnSend,
    private readonly reliable: boolean,
    private readonly timers: TimerSettings,
    private readonly user: ClientTxnUser,
  ) {
    this.intervalE = timers.t1;
  }

  start(): void {
    if (!this.transmit()) return;
    if (!this.reliable) this.timerE = setTimeout(() => this.onTimerE(), this.intervalE);
    this.timerF = setTimeout(() => this.onTimerF(), timerValues(this.timers, this.reliable).txnTimeout);
  }

  private transmit(): boolean {
    try {
      this.send(this.request);
      return true;
    } catch (err) {
      this.terminate();
      this.user.onTransportError(err as Error);
      return false;
    }
  }

  private onTimerE(): void {
    this.timerE = null;
    if (!this.state.is('trying', 'proceeding')) return;
    if (!this.transmit()) return;
    // §17.1.2.2: doubling up to T2 while trying; T2 once a provisional arrived.
    this.intervalE = this.state.is('trying') ? Math.min(2 * this.intervalE, this.timers.t2) : this.timers.t2;
    this.timerE = setTimeout(() => this.onTimerE(), this.intervalE);
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
    if (this.timerE) clearTimeout(this.timerE);
    if (this.timerF) clearTimeout(this.timerF);
    this.timerE = this.timerF = null;
    this.state.transition('completed');
    this.user.onResponse(res);
    this.timerK = setTimeout(() => this.terminate(), timerValues(this.timers, this.reliable).K);
  }

  /** A transport failure found after the send returned (a refused TCP connect). */
  transportError(err: Error): void {
    if (this.state.is('terminated', 'completed')) return;
    this.terminate();
    this.user.onTransportError(err);
  }

  terminate(): void {
    if (this.state.is('terminated')) return;
    for (const t of [this.timerE, this.timerF, this.timerK]) if (t) clearTimeout(t);
    this.timerE = this.timerF = this.timerK = null;
    this.state.transition('terminated');
    this.user.onTerminated();
  }
}

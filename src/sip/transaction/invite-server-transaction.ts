// INVITE server transaction, RFC 3261 §17.2.1 with the Accepted state of RFC 6026 §7.1.
// 2xx retransmission is the TU's job (dialog/uas-2xx-retransmitter.ts), as §13.3.1.4 says.
import type { SipMessage } from '../message/sip-message.ts';
import { GuardedState } from './guarded-state.ts';
import { timerValues, type TimerSettings } from './timer-values.ts';
import { clearAll, Transaction } from './transaction-base.ts';
import type { ServerTxnUser, TxnSend } from './transaction-types.ts';

export type IstState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

const LEGAL: Record<IstState, IstState[]> = {
  proceeding: ['proceeding', 'completed', 'accepted', 'terminated'],
  completed: ['confirmed', 'terminated'],
  confirmed: ['terminated'],
  accepted: ['terminated'],
  terminated: [],
};

export class InviteServerTransaction extends Transaction<IstState> {
  readonly state = new GuardedState<IstState>('proceeding', LEGAL, 'IST');
  private timerG: NodeJS.Timeout | null = null;
  private timerH: NodeJS.Timeout | null = null;
  private timerI: NodeJS.Timeout | null = null;
  private timerL: NodeJS.Timeout | null = null;
  private intervalG: number;
  private lastResponse: SipMessage | null = null;
  private lastStatusCode = 0;

  constructor(
    readonly request: SipMessage,
    send: TxnSend,
    reliable: boolean,
    timers: TimerSettings,
    protected override readonly user: ServerTxnUser,
  ) {
    super(send, reliable, timers, user);
    this.intervalG = timers.t1;
  }

  get finalSent(): boolean {
    return !this.state.is('proceeding');
  }

  get lastStatus(): number {
    return this.lastStatusCode;
  }

  respond(res: SipMessage): void {
    if (!this.state.is('proceeding')) throw new Error(`IST: cannot send ${res.status} in state ${this.state.value}`);
    this.lastResponse = res;
    this.lastStatusCode = res.status;
    if (!this.transmit(res)) return;
    if (res.status < 200) return;
    if (res.status < 300) {
      // RFC 6026 §7.1: Accepted absorbs INVITE retransmissions and never resends the 2xx
      // (the TU does), so the response need not live the 32 s of timer L.
      this.lastResponse = null;
      this.state.transition('accepted');
      this.timerL = setTimeout(() => this.terminate(), 64 * this.timers.t1);
      return;
    }
    this.state.transition('completed');
    if (!this.reliable) this.timerG = setTimeout(() => this.onTimerG(), this.intervalG);
    this.timerH = setTimeout(() => this.onTimerH(), timerValues(this.timers, this.reliable).txnTimeout);
  }

  private onTimerG(): void {
    this.timerG = null;
    if (!this.state.is('completed') || !this.lastResponse) return;
    if (!this.transmit(this.lastResponse)) return;
    this.intervalG = Math.min(2 * this.intervalG, this.timers.t2);
    this.timerG = setTimeout(() => this.onTimerG(), this.intervalG);
  }

  private onTimerH(): void {
    this.timerH = null;
    if (!this.state.is('completed')) return;
    this.terminate();
    this.user.onTimeout?.();
  }

  /** A retransmission of the INVITE: the last response goes out again (§17.2.1). */
  receiveRetransmission(): void {
    if (this.state.is('proceeding', 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  /** The ACK for a non-2xx final response is absorbed here; returns false when not ours. */
  receiveAck(): boolean {
    if (this.state.is('completed')) {
      clearAll(this.timerG, this.timerH);
      this.timerG = this.timerH = null;
      this.state.transition('confirmed');
      this.timerI = setTimeout(() => this.terminate(), timerValues(this.timers, this.reliable).I);
      return true;
    }
    return this.state.is('confirmed');
  }

  protected clearTimers(): void {
    clearAll(this.timerG, this.timerH, this.timerI, this.timerL);
    this.timerG = this.timerH = this.timerI = this.timerL = null;
  }
}

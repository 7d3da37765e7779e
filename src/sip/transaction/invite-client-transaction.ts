// INVITE client transaction, RFC 3261 §17.1.1 with the Accepted state of RFC 6026 §7.2.
// Timer B runs in Calling only (§17.1.1.2): a provisional response stops it. From then on the
// wait is bounded by timer C (§16.6 step 11, > 3 min, reset by each provisional): when it fires
// the TU is told (it CANCELs), and if no final response comes within 64*T1 more, the TU gets
// its timeout (408, §16.8). So does any CANCEL of the TU's (cancelSent, §9.1: a request whose
// CANCEL got no final response within 64*T1 is taken as cancelled: a proxy that lost the
// transaction, restarted, drops that CANCEL).
import { SipMessage } from '../message/sip-message.ts';
import { GuardedState } from './guarded-state.ts';
import { timerC, timerValues, type TimerSettings } from './timer-values.ts';
import { clearAll, Transaction } from './transaction-base.ts';
import type { ClientTxnUser, TxnSend } from './transaction-types.ts';

export type IctState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

const LEGAL: Record<IctState, IctState[]> = {
  calling: ['proceeding', 'completed', 'accepted', 'terminated'],
  proceeding: ['proceeding', 'completed', 'accepted', 'terminated'],
  completed: ['terminated'],
  accepted: ['terminated'],
  terminated: [],
};

export class InviteClientTransaction extends Transaction<IctState> {
  readonly state = new GuardedState<IctState>('calling', LEGAL, 'ICT');
  private timerB: NodeJS.Timeout | null = null;
  private timerD: NodeJS.Timeout | null = null;
  private timerM: NodeJS.Timeout | null = null;
  private timerC: NodeJS.Timeout | null = null;
  /** Armed by cancelSent(): the end of the wait for the final response after a CANCEL. */
  private timerCancel: NodeJS.Timeout | null = null;
  private intervalA: number;
  private ack: SipMessage | null = null;

  constructor(
    readonly request: SipMessage,
    send: TxnSend,
    reliable: boolean,
    timers: TimerSettings,
    protected override readonly user: ClientTxnUser,
  ) {
    super(send, reliable, timers, user);
    this.intervalA = timers.t1;
  }

  start(): void {
    if (!this.transmit(this.request)) return;
    // §17.1.1.2: timer A only on unreliable transports; timer B always.
    if (!this.reliable) this.armRetransmit(this.intervalA, () => this.onTimerA());
    this.timerB = setTimeout(() => this.onTimerB(), timerValues(this.timers, this.reliable).txnTimeout);
  }

  /** Timer A (armed through armRetransmit: never ahead of a response already received). */
  private onTimerA(): void {
    if (!this.state.is('calling')) return;
    if (!this.transmit(this.request)) return;
    this.intervalA *= 2;
    this.armRetransmit(this.intervalA, () => this.onTimerA());
  }

  private onTimerB(): void {
    this.timerB = null;
    if (!this.state.is('calling')) return;
    this.terminate();
    this.user.onTimeout();
  }

  /** Timer C, armed (again) by each provisional response while in Proceeding. */
  private armTimerC(): void {
    this.clearC();
    this.timerC = setTimeout(() => this.onTimerC(), timerC(this.timers));
  }

  private onTimerC(): void {
    this.timerC = null;
    if (!this.state.is('proceeding')) return;
    // §16.8: CANCEL (the TU's), then a 408 when no final response comes within 64*T1.
    this.cancelSent();
    this.user.onTimerC?.();
  }

  /** The TU sent a CANCEL for this INVITE: without a final response within 64*T1, the TU gets its timeout (§9.1). Once. */
  cancelSent(): void {
    if (this.timerCancel || !this.state.is('calling', 'proceeding')) return;
    this.timerCancel = setTimeout(() => {
      this.timerCancel = null;
      if (!this.state.is('calling', 'proceeding')) return;
      this.terminate();
      this.user.onTimeout();
    }, 64 * this.timers.t1);
  }

  receiveResponse(res: SipMessage): void {
    const s = res.status;
    if (this.state.is('terminated')) return;
    if (s < 200) {
      if (!this.state.is('calling', 'proceeding')) return;
      this.state.transition('proceeding');
      this.clearA();
      this.clearB();
      this.armTimerC();
      this.user.onResponse(res);
    } else if (s < 300) {
      if (this.state.is('calling', 'proceeding')) {
        // RFC 6026: stay to pass 2xx retransmissions (and other forks) to the TU until timer M.
        this.clearA();
        this.clearB();
        this.clearC();
        this.clearCancel();
        this.state.transition('accepted');
        this.timerM = setTimeout(() => this.terminate(), 64 * this.timers.t1);
      }
      if (this.state.is('accepted')) this.user.onResponse(res);
      else if (this.state.is('completed')) this.user.onLate2xx?.(res);
    } else {
      if (this.state.is('calling', 'proceeding')) {
        this.clearA();
        this.clearB();
        this.clearC();
        this.clearCancel();
        this.state.transition('completed');
        // Timer D first: a user that throws on the response must not leave us without an end.
        this.timerD = setTimeout(() => this.terminate(), timerValues(this.timers, this.reliable).D);
        this.ack = this.buildAck(res);
        this.transmit(this.ack);
        this.user.onResponse(res);
      } else if (this.state.is('completed') && this.ack) {
        // §17.1.1.2: a retransmitted final response is answered with the ACK again, not passed up.
        this.transmit(this.ack);
      }
    }
  }

  /** §17.1.1.3: the ACK for a non-2xx response belongs to this transaction. */
  private buildAck(res: SipMessage): SipMessage {
    const req = this.request;
    const ack = SipMessage.request('ACK', req.uri ?? '');
    const via = req.get('Via');
    if (via) ack.add('Via', via);
    for (const r of req.getAll('Route')) ack.add('Route', r);
    ack.add('Max-Forwards', '70');
    ack.add('From', req.get('From') ?? '');
    ack.add('To', res.get('To') ?? req.get('To') ?? '');
    ack.add('Call-ID', req.get('Call-ID') ?? '');
    ack.add('CSeq', `${req.cseq.seq} ACK`);
    return ack;
  }

  private clearA(): void {
    this.clearRetransmit();
  }
  private clearB(): void {
    if (this.timerB) clearTimeout(this.timerB);
    this.timerB = null;
  }
  private clearC(): void {
    if (this.timerC) clearTimeout(this.timerC);
    this.timerC = null;
  }
  private clearCancel(): void {
    if (this.timerCancel) clearTimeout(this.timerCancel);
    this.timerCancel = null;
  }

  /** A transport failure found after the send returned (a refused TCP connect). */
  transportError(err: Error): void {
    if (this.state.is('terminated', 'completed', 'accepted')) return;
    this.terminate();
    this.user.onTransportError(err);
  }

  protected clearTimers(): void {
    clearAll(this.timerB, this.timerC, this.timerD, this.timerM, this.timerCancel);
    this.timerB = this.timerC = this.timerD = this.timerM = this.timerCancel = null;
  }
}

// The UAS core's 2xx retransmission (RFC 3261 §13.3.1.4): timer G from T1 doubling to T2
// on unreliable transports, and timer H (64*T1) after which the dialog is given up; given up
// at once when the 2xx cannot be sent (RFC 3261 §17.2.4: a refused or reset TCP or TLS connection).
import { GuardedState } from '../transaction/guarded-state.ts';
import type { TimerSettings } from '../transaction/timer-values.ts';

type State = 'waiting' | 'acked' | 'timedout' | 'cancelled';
const LEGAL: Record<State, State[]> = {
  waiting: ['acked', 'timedout', 'cancelled'],
  acked: [],
  timedout: [],
  cancelled: [],
};

export class Uas2xxRetransmitter {
  readonly state = new GuardedState<State>('waiting', LEGAL, '2xx retransmitter');
  private timerG: NodeJS.Timeout | null = null;
  private timerH: NodeJS.Timeout | null = null;
  private intervalG: number;

  constructor(
    private readonly resend: () => void,
    reliable: boolean,
    private readonly timers: TimerSettings,
    /** No ACK: timer H ('timeout'), or the 2xx could not be sent ('transport'). */
    private readonly onTimeout: (why: 'timeout' | 'transport') => void,
  ) {
    this.intervalG = timers.t1;
    if (!reliable) this.timerG = setTimeout(() => this.onTimerG(), this.intervalG);
    this.timerH = setTimeout(() => this.onTimerH(), 64 * timers.t1);
  }

  private onTimerG(): void {
    this.timerG = null;
    if (!this.state.is('waiting')) return;
    this.resend();
    this.intervalG = Math.min(2 * this.intervalG, this.timers.t2);
    this.timerG = setTimeout(() => this.onTimerG(), this.intervalG);
  }

  private onTimerH(): void {
    this.timerH = null;
    if (!this.state.is('waiting')) return;
    this.clear();
    this.state.transition('timedout');
    this.onTimeout('timeout');
  }

  /** The 2xx could not be sent (a transport error): no ACK can come. */
  fail(): void {
    if (!this.state.is('waiting')) return;
    this.clear();
    this.state.transition('timedout');
    this.onTimeout('transport');
  }

  ack(): void {
    if (!this.state.is('waiting')) return;
    this.clear();
    this.state.transition('acked');
  }

  cancel(): void {
    if (!this.state.is('waiting')) return;
    this.clear();
    this.state.transition('cancelled');
  }

  private clear(): void {
    if (this.timerG) clearTimeout(this.timerG);
    if (this.timerH) clearTimeout(this.timerH);
    this.timerG = this.timerH = null;
  }
}

// What the four RFC 3261 §17 transactions share: an explicit state with its legal
// moves, a send that turns a transport failure into the end of the transaction
// (and a report to its user), and an end that clears every timer once.
import type { SipMessage } from '../message/sip-message.ts';
import type { GuardedState } from './guarded-state.ts';
import type { TimerSettings } from './timer-values.ts';
import type { TxnSend } from './transaction-types.ts';

/** What every transaction user hears: a failed send, and the end. */
export interface TxnUserBase {
  onTransportError?(err: Error): void;
  onTerminated(): void;
}

/** A retransmission timer that ran later than this found the event loop congested (see armRetransmit). */
const LAG_SLACK_MS = 50;

export abstract class Transaction<S extends string> {
  abstract readonly state: GuardedState<S | 'terminated'>;

  constructor(
    protected readonly send: TxnSend,
    protected readonly reliable: boolean,
    protected readonly timers: TimerSettings,
    protected readonly user: TxnUserBase,
  ) {}

  /** Clears the subclass's timers (called once, from terminate()). */
  protected abstract clearTimers(): void;

  /** Sends; on a transport failure the transaction ends and its user is told. Returns whether it went out. */
  protected transmit(msg: SipMessage): boolean {
    try {
      this.send(msg);
      return true;
    } catch (err) {
      this.terminate();
      this.user.onTransportError?.(err as Error);
      return false;
    }
  }

  /** The retransmission timer (A or E) and its step deferred past the poll phase. */
  private rtxTimer: NodeJS.Timeout | null = null;
  private rtxDeferred: NodeJS.Immediate | null = null;

  /**
   * Arms the retransmission timer (A, E): `fire` runs after `ms`, but not ahead of
   * responses the event loop has received and not read yet. A loop that lagged runs
   * every due timer before its poll phase, and then reads at most a few dozen
   * datagrams per socket per turn: a response that came during the stall can sit
   * behind the hundreds of others that came with it. So:
   * - a timer that ran more than LAG_SLACK_MS late waits again, as long as it was late,
   *   while the loop stays behind (T2 at most in all), for the loop to catch up (RFC 3261
   *   timers are lower bounds; timer B still bounds the transaction);
   * - `fire` then runs in the check phase (setImmediate), after the poll phase of that
   *   turn; it re-checks the transaction's state, which a response read meanwhile moved on;
   * - and while that poll phase read a full batch from a UDP socket (`timers.inputPending`:
   *   more may wait unread, the response among them), it waits for the next poll phase again,
   *   T2 at most past the time it was due: a loop that is slow but not late reads a backlog
   *   a few dozen datagrams per turn.
   */
  protected armRetransmit(ms: number, fire: () => void): void {
    this.clearRetransmit();
    const clock = this.timers.clock ?? (() => performance.now());
    let due = clock() + ms;
    let waited = 0;
    const onTimer = (): void => {
      this.rtxTimer = null;
      const late = clock() - due;
      if (late > LAG_SLACK_MS && waited < this.timers.t2) {
        // Late again while waiting: the loop is still behind; wait on (T2 in all).
        const wait = Math.min(late, this.timers.t2 - waited);
        waited += wait;
        due = clock() + wait;
        this.rtxTimer = setTimeout(onTimer, wait);
        return;
      }
      const deferUntil = due + this.timers.t2;
      const onCheck = (): void => {
        this.rtxDeferred = null;
        if (this.state.is('terminated')) return;
        if (this.timers.inputPending?.() && clock() < deferUntil) {
          this.rtxDeferred = setImmediate(onCheck);
          return;
        }
        fire();
      };
      this.rtxDeferred = setImmediate(onCheck);
    };
    this.rtxTimer = setTimeout(onTimer, ms);
  }

  /** Stops retransmitting (a response came). */
  protected clearRetransmit(): void {
    if (this.rtxTimer) clearTimeout(this.rtxTimer);
    if (this.rtxDeferred) clearImmediate(this.rtxDeferred);
    this.rtxTimer = null;
    this.rtxDeferred = null;
  }

  terminate(): void {
    if (this.state.is('terminated')) return;
    this.clearRetransmit();
    this.clearTimers();
    this.state.transition('terminated');
    this.user.onTerminated();
  }
}

/** Clears the timeouts given (null ones skipped). */
export function clearAll(...timers: (NodeJS.Timeout | null)[]): void {
  for (const t of timers) if (t) clearTimeout(t);
}

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

  /** A retransmission deferred past the poll phase (afterPoll), if one is pending. */
  private deferred: NodeJS.Immediate | null = null;

  /**
   * Runs `fn` once the event loop has read its sockets. A loop that lagged runs every
   * due timer before its poll phase, so a retransmission timer (A, E) would fire ahead
   * of a response that is already waiting in the socket: the INVITE went out again to
   * a peer that had answered it. setImmediate runs in the check phase, after the poll
   * phase of the same iteration; `fn` re-checks the state then.
   */
  protected afterPoll(fn: () => void): void {
    if (this.deferred) return;
    this.deferred = setImmediate(() => {
      this.deferred = null;
      if (!this.state.is('terminated')) fn();
    });
  }

  terminate(): void {
    if (this.state.is('terminated')) return;
    if (this.deferred) clearImmediate(this.deferred);
    this.deferred = null;
    this.clearTimers();
    this.state.transition('terminated');
    this.user.onTerminated();
  }
}

/** Clears the timeouts given (null ones skipped). */
export function clearAll(...timers: (NodeJS.Timeout | null)[]): void {
  for (const t of timers) if (t) clearTimeout(t);
}

// RFC 3261 §17 timer values (Table 4), from T1, T2 and T4 in milliseconds.
export interface TimerSettings {
  t1: number;
  t2: number;
  t4: number;
  /** Timer C in ms (RFC 3261 §16.6 step 11: more than 3 min); DEFAULT_TIMER_C when absent. Tests lower it. */
  timerC?: number;
  /** RFC 4028 Min-SE in seconds (session intervals below it get 422); 90 when absent. */
  minSE?: number;
  /** The clock retransmission timers measure the event loop's lag with (ms; performance.now when absent; tests set it). */
  clock?: () => number;
  /**
   * Whether SIP input may still wait unread (a UDP socket's last poll read as many datagrams as
   * libuv reads per poll); retransmission timers then wait for the next poll (see armRetransmit).
   */
  inputPending?: () => boolean;
}

export function timerValues(t: TimerSettings, reliable: boolean) {
  return {
    /** 64*T1: timers B, F, H, L, M and J on UDP. */
    txnTimeout: 64 * t.t1,
    /** Timer D: at least 32 s on UDP to absorb response retransmissions, 0 on reliable transports. */
    D: reliable ? 0 : Math.max(32000, 64 * t.t1),
    I: reliable ? 0 : t.t4,
    J: reliable ? 0 : 64 * t.t1,
    K: reliable ? 0 : t.t4,
  };
}

/** Timer C when not configured: RFC 3261 §16.6 step 11 asks for more than 3 minutes. */
export const DEFAULT_TIMER_C = 181_000;

export function timerC(t: TimerSettings): number {
  return t.timerC ?? DEFAULT_TIMER_C;
}

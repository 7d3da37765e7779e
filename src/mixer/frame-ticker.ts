// One 20 ms timer per thread (per isolate) for all the rooms it runs: every
// MixClock of a thread ticks from the same timer, on one grid of due times
// (epoch + n·20 ms on the monotonic clock). A thread with R rooms then wakes
// once per frame instead of R times at scattered phases (fewer epoll wake-ups,
// timer-list inserts and JS entries), which is most of what a lightly loaded
// media thread spends besides the rooms' own work. Each clock keeps its own
// tick count, lateness and catch-up (mix-clock.ts); the ticker only says when.
import { performance } from 'node:perf_hooks';
import { FRAME_MS } from './frames.ts';

export interface TickerClient {
  /** Runs the client's due ticks (called once per grid time while it is subscribed). */
  fire(): void;
}

export class FrameTicker {
  /** The ticker of this thread (module state is per isolate: one per media thread). */
  static readonly shared = new FrameTicker();
  private readonly clients = new Set<TickerClient>();
  private timer: NodeJS.Timeout | null = null;
  private epoch = -1;
  /** The grid index of the next fire. */
  private n = 0;
  private firing = false;

  /** Clients subscribed now. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Subscribes `c` and returns the grid time (performance.now() scale) of its
   * first tick: now when the ticker was idle, else the ticker's next fire.
   */
  add(c: TickerClient): number {
    const now = performance.now();
    this.clients.add(c);
    if (this.epoch < 0) this.epoch = now;
    if (this.firing) return this.epoch + this.n * FRAME_MS; // the fire in progress visits it after advancing n
    if (!this.timer) {
      this.n = Math.max(0, Math.ceil((now - this.epoch) / FRAME_MS));
      this.schedule(now);
    }
    return this.epoch + this.n * FRAME_MS;
  }

  /** Unsubscribes `c`; the timer stops with the last client. */
  remove(c: TickerClient): void {
    this.clients.delete(c);
    if (this.clients.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private schedule(now: number): void {
    this.timer = setTimeout(this.fire, Math.max(0, this.epoch + this.n * FRAME_MS - now));
  }

  private readonly fire = (): void => {
    this.timer = null;
    const now = performance.now();
    // libuv's millisecond clock can fire a timer a fraction of a ms early: wait
    // for the grid time, or the clients would find nothing due and tick 20 ms late.
    if (now < this.epoch + this.n * FRAME_MS) {
      this.schedule(now);
      return;
    }
    // The next grid time after now: a late timer does not make every client run
    // an extra fire (each client catches its missed ticks up itself).
    this.n = Math.max(this.n + 1, Math.floor((now - this.epoch) / FRAME_MS) + 1);
    this.firing = true;
    try {
      for (const c of this.clients) c.fire();
    } finally {
      this.firing = false;
      if (this.clients.size > 0 && !this.timer) this.schedule(performance.now());
    }
  };
}

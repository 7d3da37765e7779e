// A room's monotonic 20 ms clock. Tick n is due at start + n·20 ms on the
// monotonic clock (performance.now), and the tick handler receives the
// reference time n·20 ms, never "now": timer drift cannot accumulate, and a
// late timer runs the missed ticks at once (up to MAX_CATCH_UP, beyond which
// they are counted as skipped and the clock moves on). The clocks of one
// thread share one timer (frame-ticker.ts): a clock starts on the thread's
// 20 ms grid, at most one frame after start(). The handler also receives the
// reference time of the first tick of the run (the same, but in a catch-up):
// the ticks of a catch-up may run before the thread reads the packets that
// queued up meanwhile (a stall between two I/O passes: the timers come first),
// so what they know of the legs' input is as of that first tick. Or the packets
// are read first (a stall in an I/O callback: the poll phase goes on with the
// sockets before the timers): dueAt() then tells which ticks were due when they
// were read, although those ticks have not run yet.
import { performance } from 'node:perf_hooks';
import { FRAME_MS } from './frames.ts';
import { FrameTicker, type TickerClient } from './frame-ticker.ts';

/** What a clock needs of its ticker (FrameTicker; unit tests: a fake one they fire themselves). */
export type TickerLike = Pick<FrameTicker, 'add' | 'remove'>;

const MAX_CATCH_UP = 5;

export interface ClockStats {
  ticks: number;
  /** Ticks that ran more than one frame after they were due. */
  late: number;
  /** Ticks never run because the process stalled too long. */
  skipped: number;
  maxLateMs: number;
  /** Time spent inside tick handlers, in ms (the mixer's own compute). */
  busyMs: number;
}

export class MixClock implements TickerClient {
  private subscribed = false;
  private startAt = 0;
  private n = 0;
  private stopped = false;
  /**
   * Missed ticks run at once at most, beyond which they are skipped. A room with
   * record-only legs raises it to their depth (RoomMixer): a skipped tick is a frame
   * its jitter buffers never play, so a stalled thread would fill them up for good.
   */
  maxCatchUp = MAX_CATCH_UP;
  /** Told the reference time of the latest tick skipped, when ticks were (room time moved on without them). */
  onSkip: ((timeMs: number) => void) | null = null;
  readonly stats: ClockStats = { ticks: 0, late: 0, skipped: 0, maxLateMs: 0, busyMs: 0 };

  constructor(
    private readonly onTick: (timeMs: number, runStartMs: number) => void,
    private readonly ticker: TickerLike = FrameTicker.shared,
    /** The monotonic clock (performance.now(); unit tests: a fake time of their own). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  get running(): boolean {
    return this.subscribed;
  }

  start(): void {
    if (this.subscribed || this.stopped) return;
    this.subscribed = true;
    this.n = 0;
    this.startAt = this.ticker.add(this);
  }

  stop(): void {
    this.stopped = true;
    if (this.subscribed) this.ticker.remove(this);
    this.subscribed = false;
  }

  /**
   * Room time of the latest tick due at `atMs` (on this clock's monotonic time, as the
   * packets' arrival times are), run or not yet; -Infinity while the clock is not running.
   */
  dueAt(atMs: number): number {
    if (!this.subscribed) return -Infinity;
    return Math.floor((atMs - this.startAt) / FRAME_MS) * FRAME_MS;
  }

  /** @internal Called by the ticker at each grid time: runs the ticks due (and missed ones). */
  fire(): void {
    let now = this.now();
    let ran = 0;
    const runStartMs = this.n * FRAME_MS;
    while (!this.stopped && this.startAt + this.n * FRAME_MS <= now) {
      const lateMs = now - (this.startAt + this.n * FRAME_MS);
      if (ran >= this.maxCatchUp) {
        const missed = Math.floor(lateMs / FRAME_MS);
        this.stats.skipped += missed;
        this.n += missed;
        if (missed > 0) this.onSkip?.((this.n - 1) * FRAME_MS);
        break;
      }
      if (lateMs > FRAME_MS) this.stats.late++;
      if (lateMs > this.stats.maxLateMs) this.stats.maxLateMs = lateMs;
      this.stats.ticks++;
      this.onTick(this.n * FRAME_MS, runStartMs);
      this.n++;
      ran++;
      const after = this.now();
      this.stats.busyMs += after - now;
      now = after;
    }
  }
}

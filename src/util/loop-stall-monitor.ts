// Says in the log when the main thread's event loop stalls: everything on it
// (SIP timers, flows, the API) waits meanwhile, and a stall longer than T1
// (500 ms) makes peers resend their requests. perf_hooks' event-loop-delay
// histogram is read every `everyMs`; a window whose longest delay reached
// `thresholdMs` is logged once with its figures (and counted), at most one log
// line per `everyMs`. The same histogram's figures are in /metrics
// (parley_process_nodejs_eventloop_lag_*). Find the cause with a CPU profile.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from './logger.ts';

export interface LoopStallOptions {
  thresholdMs?: number;
  everyMs?: number;
  log: Logger;
}

export class LoopStallMonitor {
  /** Windows in which the loop stalled at least thresholdMs, since start. */
  stalls = 0;
  /** The longest delay seen, in ms. */
  worstMs = 0;
  private readonly histogram: IntervalHistogram;
  private timer: NodeJS.Timeout | null;
  private readonly thresholdMs: number;

  constructor(private readonly o: LoopStallOptions) {
    this.thresholdMs = o.thresholdMs ?? 200;
    // 10 ms resolution: the histogram's own timer is cheap at that rate.
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => this.check(), o.everyMs ?? 1000);
    this.timer.unref();
  }

  /** Reads and resets the window: logs it if it stalled. Exposed for tests. */
  check(): void {
    const h = this.histogram;
    const maxMs = h.max / 1e6;
    if (h.count > 0 && maxMs >= this.thresholdMs) {
      this.stalls++;
      this.worstMs = Math.max(this.worstMs, maxMs);
      this.o.log.warn(
        { maxMs: Math.round(maxMs), p99Ms: Math.round(h.percentile(99) / 1e6), meanMs: Math.round(h.mean / 1e6), samples: h.count, stalls: this.stalls },
        'main event loop stalled',
      );
    }
    h.reset();
  }

  /** Synchronous and idempotent. */
  close(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.histogram.disable();
  }
}

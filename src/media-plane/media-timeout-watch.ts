// One timer per thread (per isolate) for the media-timeout checks of all the
// rooms it runs (media.rtpTimeoutSec): each room used to hold its own interval,
// so a thread with R rooms made R timers and woke for each at its own phase.
// Rooms with the same check period share one interval; it stops with the last.
import { performance } from 'node:perf_hooks';
export interface MediaWatchClient {
  /** Checks the client's legs for RTP silence at `nowMs` (performance.now()). */
  checkMedia(nowMs: number): void;
}

interface Group {
  timer: NodeJS.Timeout;
  clients: Set<MediaWatchClient>;
}

export class MediaTimeoutWatch {
  /** The watch of this thread (module state is per isolate: one per media thread). */
  static readonly shared = new MediaTimeoutWatch();
  private readonly groups = new Map<number, Group>();

  /** Clients watched now, all periods together. */
  get size(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.clients.size;
    return n;
  }

  /** Intervals running now: one per check period in use, whatever the number of clients. */
  get timers(): number {
    return this.groups.size;
  }

  /** Checks `c` every `periodMs` from now on (the first check at most one period away). */
  add(c: MediaWatchClient, periodMs: number): void {
    let g = this.groups.get(periodMs);
    if (!g) {
      const clients = new Set<MediaWatchClient>();
      const timer = setInterval(() => {
        const now = performance.now();
        for (const client of clients) client.checkMedia(now);
      }, periodMs).unref();
      g = { timer, clients };
      this.groups.set(periodMs, g);
    }
    g.clients.add(c);
  }

  /** Stops checking `c`; the period's timer stops with its last client. */
  remove(c: MediaWatchClient, periodMs: number): void {
    const g = this.groups.get(periodMs);
    if (!g || !g.clients.delete(c) || g.clients.size > 0) return;
    clearInterval(g.timer);
    this.groups.delete(periodMs);
  }
}

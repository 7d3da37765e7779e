// One pass of periodic main-thread work over many items (every recorder's ring,
// every player's ring), cut into slices of about `sliceMs`: after each slice the
// rest of the pass goes on in a setImmediate, so the event loop polls in between
// (a media thread's reply, a SIP message, a timer). A pass over a few hundred
// recorders in one callback held the loop for tens of ms under call load, and
// every call being set up waited behind it.
//
// A pass asked for while the previous one still runs is skipped (the running one
// reaches every item anyway). Items are handed to `each` in order; `each` decides
// whether an item is still wanted (it may have gone between slices).
import { performance } from 'node:perf_hooks';

export class SlicedPass<T> {
  private items: readonly T[] = [];
  private at = 0;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;

  constructor(
    private readonly sliceMs: number,
    private readonly each: (item: T) => void,
  ) {}

  /** A pass is under way (some items wait for their slice). */
  get running(): boolean {
    return this.at < this.items.length;
  }

  /** Starts a pass over `items` (a copy the caller does not change); false when one still runs. */
  start(items: readonly T[]): boolean {
    if (this.closed || this.running) return false;
    this.items = items;
    this.at = 0;
    this.slice();
    return true;
  }

  /** Synchronous and idempotent: the rest of a running pass is dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.items = [];
    this.at = 0;
  }

  private slice(): void {
    this.immediate = null;
    const until = performance.now() + this.sliceMs;
    const items = this.items;
    try {
      while (this.at < items.length) {
        const item = items[this.at++]!;
        this.each(item);
        if (this.closed) return;
        if (performance.now() >= until) break;
      }
    } finally {
      // Also after a throwing item (it propagates as it did from the timer): the rest still runs.
      if (!this.closed && this.at < items.length) {
        // Unref'd like the timers that start passes: a pass never holds the process.
        this.immediate = setImmediate(() => this.slice()).unref();
      } else if (this.at >= items.length) {
        this.items = [];
        this.at = 0;
      }
    }
  }
}

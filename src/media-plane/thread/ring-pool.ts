// SharedArrayBuffers for the rings between the main thread and one media thread
// (tick-ring.ts, frame-ring.ts), used again instead of made per recorder or per
// prompt: a new 512 KiB ring per recorder was external memory that drove V8's
// young-generation GCs on the main thread under call load.
//
// A ring is used again only after both ends let go of it:
// - main gives it back (give()) once it no longer reads or writes it;
// - the media thread's end marks it detached in the ring's own header (an
//   Atomics store, the ring's int at RING_DETACHED) once it will not touch it
//   again: its sink was removed, its source finished, its room closed.
// A ring given back waits until its thread end is detached; one whose thread
// never says so (the thread died, or a path that forgets) is dropped after
// MAX_WAITING others, never used again. take() clears the header, so the ring
// starts empty (the data area is not cleared: the rings read only what was
// written since).
/** The header's int (both rings keep 4 ints in front) that the thread's end sets to 1 when it lets go. */
export const RING_DETACHED = 3;
/** Header ints of both ring kinds. */
const HEADER_INTS = 4;
/** Rings kept free, per size (a few seconds of call churn; the rest are dropped to the GC). */
const MAX_FREE = 32;
/** Rings given back whose thread end has not let go yet. */
const MAX_WAITING = 256;

export class RingPool {
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  private waiting: SharedArrayBuffer[] = [];
  /** Rings made new, taken from the pool, and dropped without reuse (for tests and benches). */
  made = 0;
  reused = 0;
  abandoned = 0;

  /** A ring of `bytes` bytes (header included) with a zeroed header: one let go by both ends, or a new one. */
  take(bytes: number): SharedArrayBuffer {
    this.collect();
    const list = this.free.get(bytes);
    const buffer = list?.pop();
    if (!buffer) {
      this.made++;
      return new SharedArrayBuffer(bytes);
    }
    this.reused++;
    const header = new Int32Array(buffer, 0, HEADER_INTS);
    for (let i = 0; i < HEADER_INTS; i++) Atomics.store(header, i, 0);
    return buffer;
  }

  /** Main no longer uses `buffer`: it is taken again once the thread's end has detached too. */
  give(buffer: SharedArrayBuffer): void {
    this.waiting.push(buffer);
    if (this.waiting.length > MAX_WAITING) {
      this.collect();
      // Still too many: the oldest never let go (their thread end is gone). Dropped, not reused.
      const over = this.waiting.length - MAX_WAITING;
      if (over > 0) {
        this.waiting.splice(0, over);
        this.abandoned += over;
      }
    }
  }

  /** Rings given back and not yet let go by the thread's end. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Moves every waiting ring the thread's end let go of to the free lists. */
  private collect(): void {
    if (this.waiting.length === 0) return;
    const still: SharedArrayBuffer[] = [];
    for (const b of this.waiting) {
      if (Atomics.load(new Int32Array(b, 0, HEADER_INTS), RING_DETACHED) !== 1) {
        still.push(b);
        continue;
      }
      let list = this.free.get(b.byteLength);
      if (!list) this.free.set(b.byteLength, (list = []));
      if (list.length < MAX_FREE) list.push(b);
    }
    this.waiting = still;
  }
}

/** The thread's end lets go of a ring (it will never read or write it again). */
export function detachRing(header: Int32Array): void {
  Atomics.store(header, RING_DETACHED, 1);
}

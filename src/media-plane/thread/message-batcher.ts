// Messages to the other side of a worker_threads port, combined: what one
// callback sends synchronously leaves as one postMessage (a 'batch' when there
// are several), flushed in a microtask (what a later microtask sends goes in
// the next post). Each postMessage costs both threads a wake-up, a
// structured clone and an event dispatch; a call's teardown, or one mixer tick
// that ends several sources, used to pay that per message. Order is kept (a
// single queue), and nothing waits longer than the current turn: the queue is
// flushed in a microtask.

/** Several messages in one post; the receiver handles them in order. */
export interface Batch<T> {
  type: 'batch';
  messages: T[];
}

export class MessageBatcher<T> {
  /** postMessage calls made (one per flush). */
  posts = 0;
  private queue: T[] = [];
  private scheduled = false;
  private closed = false;

  constructor(private readonly postOne: (message: T | Batch<T>) => void) {}

  push(message: T): void {
    if (this.closed) return;
    this.queue.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.flush);
  }

  /** Posts what is queued now (also called by the microtask). */
  readonly flush = (): void => {
    this.scheduled = false;
    const q = this.queue;
    if (q.length === 0 || this.closed) return;
    this.queue = [];
    this.posts++;
    this.postOne(q.length === 1 ? q[0]! : { type: 'batch', messages: q });
  };

  /** Synchronous and idempotent: what is queued is dropped, nothing more is posted. */
  close(): void {
    this.closed = true;
    this.queue = [];
  }
}

/** Calls `each` for every message of a post, in order. */
export function unbatch<T extends { type: string }>(message: T | Batch<T>, each: (m: T) => void): void {
  if (message.type === 'batch') for (const m of (message as Batch<T>).messages) each(m);
  else each(message as T);
}

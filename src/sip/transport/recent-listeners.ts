// The transactions that sent to one destination (or on one connection) lately, so a transport
// failure found later reaches them (RFC 3261 §18.4). Kept for a window only, long enough for
// any transaction still waiting (timer B/F); adding is O(1) amortised, so a busy destination
// at thousands of requests per second costs no scans.
export type TransportErrorListener = (err: Error) => void;

export class RecentListeners {
  private cbs: TransportErrorListener[] = [];
  private ats: number[] = [];
  private head = 0;

  constructor(private readonly windowMs: number) {}

  add(cb: TransportErrorListener, now = Date.now()): void {
    while (this.head < this.ats.length && now - this.ats[this.head] > this.windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.ats.length) {
      this.cbs = this.cbs.slice(this.head);
      this.ats = this.ats.slice(this.head);
      this.head = 0;
    }
    this.cbs.push(cb);
    this.ats.push(now);
  }

  get size(): number {
    return this.cbs.length - this.head;
  }

  /** Tells every listener still in the window, once; the list is empty afterwards. */
  fail(err: Error, now = Date.now()): void {
    const cbs = this.cbs;
    const ats = this.ats;
    const from = this.head;
    this.clear();
    for (let i = from; i < cbs.length; i++) if (now - ats[i] <= this.windowMs) cbs[i](err);
  }

  clear(): void {
    this.cbs = [];
    this.ats = [];
    this.head = 0;
  }
}

// Wrong tokens at the console's sign-in, counted per client address: after
// `maxFailures` within `windowMs` that address gets 429 until the window ends.
// The token is long enough that guessing it is hopeless anyway; this keeps a
// guesser from spending Parley's time and filling its log. No timer: entries
// are dropped when looked at after their window, and the map is bounded.
export class SignInThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxAddresses = 10_000,
  ) {}

  /** Milliseconds until `ip` may try again; 0 when it may now. */
  retryAfterMs(ip: string): number {
    const f = this.failures.get(ip);
    if (!f) return 0;
    const left = f.since + this.windowMs - this.now();
    if (left <= 0) {
      this.failures.delete(ip);
      return 0;
    }
    return f.count >= this.maxFailures ? left : 0;
  }

  fail(ip: string): void {
    const t = this.now();
    const f = this.failures.get(ip);
    if (f && t - f.since < this.windowMs) {
      f.count++;
      return;
    }
    this.failures.delete(ip);
    while (this.failures.size >= this.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(ip, { count: 1, since: t });
  }

  succeed(ip: string): void {
    this.failures.delete(ip);
  }
}

// Polling for a condition in tests: an event to wait for, not a fixed sleep.

/** Resolves with fn's value once it is neither undefined nor false (polled every 50 ms); rejects naming `what` after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

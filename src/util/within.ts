// Waiting with a bound: a stop waits for work that should end soon, but never forever.

/** Runs `fn` and resolves when it does, or after `ms`, whichever comes first; never rejects. */
export async function within(ms: number, fn: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  await Promise.race([fn().catch(() => undefined), timeout]);
  clearTimeout(timer);
}

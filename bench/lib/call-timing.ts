// Per-call times from the `<log>` lines the bench:calls SIPp scenarios write
// (bench/scenarios/call-setup-*.xml): `kind;call;seconds;microseconds`, wall clock
// from gettimeofday in both SIPp processes, so times from the caller and the callee
// can be subtracted (one machine, one clock).

/** Milliseconds since the epoch at each point of one call; absent when it never happened. */
export interface CallTimes {
  /** The caller sent its INVITE. */
  invite?: number;
  /** The caller got the 183 (Parley answered with early media). */
  early?: number;
  /** The callee got Parley's INVITE (the B leg). */
  callee?: number;
  /** The caller got the 200. */
  answered?: number;
  /** The caller sent its BYE. */
  bye?: number;
}

const KINDS = new Set(['invite', 'early', 'callee', 'answered', 'bye']);

/**
 * Call times by the caller's call number. The callee logs the caller's From user
 * (`bench-<n>`), which is how its INVITE is matched to the caller's.
 */
export function parseCallTimes(...logs: string[]): Map<number, CallTimes> {
  const calls = new Map<number, CallTimes>();
  for (const text of logs) {
    for (const line of text.split('\n')) {
      const [kind, who, sec, usec] = line.trim().split(';');
      if (!KINDS.has(kind) || usec === undefined) continue;
      const n = Number(/(\d+)$/.exec(who)?.[1]);
      const at = Number(sec) * 1000 + Number(usec) / 1000;
      if (!Number.isFinite(n) || !Number.isFinite(at)) continue;
      const times = calls.get(n) ?? {};
      // A retransmitted 183 or 200 logs again: the first one counts.
      times[kind as keyof CallTimes] ??= at;
      calls.set(n, times);
    }
  }
  return calls;
}

export interface Spread {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function spread(values: number[]): Spread {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);
  return { n: s.length, p50: round(percentile(s, 50)), p99: round(percentile(s, 99)), max: round(s.length ? s[s.length - 1] : null) };
}

/** Intervals between two points of each call (ms), for the calls that have both. */
export function durations(calls: Map<number, CallTimes>, from: keyof CallTimes, to: keyof CallTimes): number[] {
  const out: number[] = [];
  for (const t of calls.values()) {
    const a = t[from];
    const b = t[to];
    if (a !== undefined && b !== undefined) out.push(b - a);
  }
  return out;
}

/** The most intervals [start, end) open at one time. */
export function peakOverlap(intervals: Array<[number, number]>): number {
  const edges: Array<[number, number]> = [];
  for (const [a, b] of intervals) {
    if (!(b > a)) continue;
    edges.push([a, 1], [b, -1]);
  }
  // At equal times an end goes before a start: [a, b) and [b, c) do not overlap.
  edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let peak = 0;
  for (const [, d] of edges) {
    open += d;
    peak = Math.max(peak, open);
  }
  return peak;
}

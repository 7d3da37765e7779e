// The recorders' flush timers, shared. Every open recording flushed on a timer of its
// own (every recording.flushIntervalMs, at a random phase): 200 recordings at 250 ms
// were 800 main-thread wake-ups a second, each costing the process tens of µs beside
// the flush itself on a loaded 2-core VM. Here the recordings of one interval share
// PHASES timers spread evenly over the interval (each recording joins the one with
// the fewest): a recording is still flushed exactly every interval, as before (what a
// kill -9 can lose does not change), and the flushes of recordings started together
// are still spread over the interval, not all run in one turn.
// A phase's timer runs only while it has recordings (it holds the process then, as
// the recorders' own timers did), and is cleared when its last one leaves.

/** Timers per interval, evenly spaced (at 250 ms: one every 50 ms). */
const PHASES = 5;

interface Phase {
  readonly members: Set<() => void>;
  /** The timer: a timeout to the phase's first point, then the interval. */
  timer: NodeJS.Timeout | null;
  /** Its points are at origin + offset + k × every. */
  readonly offset: number;
}

export class FlushTimers {
  /** The phases of each interval (ms), made when the first recording with that interval joins. */
  private readonly byInterval = new Map<number, { origin: number; phases: Phase[] }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * `flush` is called every `everyMs` from now on (the first time within `everyMs`),
   * until the returned function is called (idempotent). `flush` must not throw.
   */
  add(everyMs: number, flush: () => void): () => void {
    let group = this.byInterval.get(everyMs);
    if (!group) {
      group = { origin: this.now(), phases: Array.from({ length: PHASES }, (_, i) => ({ members: new Set<() => void>(), timer: null, offset: (i * everyMs) / PHASES })) };
      this.byInterval.set(everyMs, group);
    }
    let phase = group.phases[0]!;
    for (const p of group.phases) if (p.members.size < phase.members.size) phase = p;
    // A function of its own per recording, so that the same flush added twice is two members.
    const member = (): void => flush();
    phase.members.add(member);
    if (!phase.timer) this.start(phase, group.origin, everyMs);
    return () => {
      if (!phase.members.delete(member) || phase.members.size > 0) return;
      if (phase.timer) clearTimeout(phase.timer); // clears an interval too
      phase.timer = null;
    };
  }

  /** Timers running now (tests). */
  get running(): number {
    let n = 0;
    for (const g of this.byInterval.values()) for (const p of g.phases) if (p.timer) n++;
    return n;
  }

  private start(phase: Phase, origin: number, everyMs: number): void {
    const since = this.now() - origin - phase.offset;
    const wait = ((everyMs - (since % everyMs)) % everyMs + everyMs) % everyMs;
    phase.timer = setTimeout(() => {
      phase.timer = setInterval(() => run(phase), everyMs);
      run(phase);
    }, wait);
  }
}

function run(phase: Phase): void {
  // A member removed during the pass (its recording closed) is skipped by the Set's iteration.
  for (const f of phase.members) f();
}

let shared: FlushTimers | null = null;

/** The process's flush timers (every recorder's). */
export function flushTimers(): FlushTimers {
  shared ??= new FlushTimers();
  return shared;
}

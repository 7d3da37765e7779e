// When an open recording's sidecar is rewritten. A rewrite costs a serialization on the
// main thread and, in the recording I/O thread, a temp file's write and two renames
// (0.1 to 0.5 ms each on this machine's ext4, bench:rec-io): once a second for every
// open recording, it was a fifth of that thread's work in 30 s calls (bench:bridge)
// and grows with the calls held. So:
// - What the sidecar records (legs, stems, notices, holds, pauses, masks, errors, the
//   SIPREC view…) reaches the disk within a second of changing, as before: a crash
//   loses at most a second of it.
// - Its lengths alone (every `durationMs`) are refreshed every PROGRESS_EVERY_MS.
//   They are not what a crash needs: the repair at the next start sets them from the
//   files (recover-recordings.ts), and the API shows an open recording's metadata
//   from memory (Recorder.metadata).
// A change is seen by comparing the sidecar's JSON without its lengths and
// `updatedAt` (about 8 µs for bench:bridge's 3 KB sidecar), once a second (it was at
// every flush once the second had passed: 16 of them in a 5 s call) and only while no
// rewrite is due anyway. The shape due() found changed is the one the write that
// follows it records: not serialized again.

/** What the sidecar records reaches the disk this soon after it changes. */
export const CHANGE_EVERY_MS = 1000;
/** The lengths alone are rewritten this often. */
export const PROGRESS_EVERY_MS = 10_000;

/** Timers run a few ms early or late: a flush due at 1000 ms may come at 997. */
const SLACK_MS = 5;

/** Every `"durationMs":<number>` and `"updatedAt":"<text>"` member of compact JSON. */
const PROGRESS = /"(?:durationMs":-?[\d.eE+-]+|updatedAt":"[^"\\]*")/g;

/**
 * The sidecar without what changes on its own as the recording grows: its JSON with
 * those members cut out (a replacer called for every key cost a little more: 9 against
 * 7.5 µs for bench:bridge's sidecar). Only compared, never parsed; a string value that
 * happens to hold such text is cut the same way in both versions compared.
 */
export function sidecarShape(meta: unknown): string {
  return JSON.stringify(meta).replace(PROGRESS, '');
}

export class SidecarSchedule {
  private lastWrite = Number.NEGATIVE_INFINITY;
  private lastShape = '';
  /** The shape due() just found changed (the flush writes it next; only the lengths change meanwhile). */
  private changed: string | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** When the shape was last compared or written. */
  private lastCheck = Number.NEGATIVE_INFINITY;

  /** At a flush: whether the sidecar `meta` should be rewritten now. */
  due(meta: unknown): boolean {
    const now = this.now();
    const since = now - this.lastWrite;
    if (since < CHANGE_EVERY_MS - SLACK_MS) return false;
    if (since >= PROGRESS_EVERY_MS - SLACK_MS) return true;
    // Compared once a second, not at every flush (4 a second at the default interval): a
    // change made just after a comparison is found by the next one, a second later.
    if (now - this.lastCheck < CHANGE_EVERY_MS - SLACK_MS) return false;
    this.lastCheck = now;
    const shape = sidecarShape(meta);
    if (shape === this.lastShape) return false;
    this.changed = shape;
    return true;
  }

  /** `meta` is being written (at a flush right after due(), or at the recording's start or end). */
  written(meta: unknown): void {
    this.lastWrite = this.lastCheck = this.now();
    this.lastShape = this.changed ?? sidecarShape(meta);
    this.changed = null;
  }
}

// A recording's pauses and masks: the open interval of each (at most one at a
// time), appended to the sidecar's `pauses` / `masks` lists when it begins and
// closed when it ends or the recording closes. `changed` is called after every
// begin and end (the Recorder's 'state' event).
import type { IntervalEntry, TimePoint } from './metadata.ts';

export class PauseMask {
  private paused: IntervalEntry | null = null;
  private masked: IntervalEntry | null = null;

  constructor(
    private readonly pauses: IntervalEntry[],
    private readonly masks: IntervalEntry[],
    private readonly changed: () => void,
  ) {}

  get isPaused(): boolean {
    return this.paused !== null;
  }

  get isMasked(): boolean {
    return this.masked !== null;
  }

  pause(reason: string | null, at: TimePoint): void {
    if (this.paused) return;
    this.paused = { reason, start: at, end: null };
    this.pauses.push(this.paused);
    this.changed();
  }

  resume(at: TimePoint): void {
    if (!this.paused) return;
    this.paused.end = at;
    this.paused = null;
    this.changed();
  }

  mask(reason: string | null, at: TimePoint): void {
    if (this.masked) return;
    this.masked = { reason, start: at, end: null };
    this.masks.push(this.masked);
    this.changed();
  }

  unmask(at: TimePoint): void {
    if (!this.masked) return;
    this.masked.end = at;
    this.masked = null;
    this.changed();
  }

  /** The recording closes: an open pause or mask ends at `at`, silently. */
  closeAt(at: TimePoint): void {
    if (this.paused) this.paused.end = at;
    if (this.masked) this.masked.end = at;
    this.paused = null;
    this.masked = null;
  }
}

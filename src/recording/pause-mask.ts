// A recording's pauses and masks: two SpanLists, appended to the sidecar's
// `pauses` / `masks` lists. `changed` is called after every begin and end (the
// Recorder's 'state' event).
import type { IntervalEntry, TimePoint } from './metadata.ts';
import { SpanList } from './span-list.ts';

export class PauseMask {
  private readonly pauses: SpanList;
  private readonly masks: SpanList;

  constructor(pauses: IntervalEntry[], masks: IntervalEntry[], changed: () => void) {
    this.pauses = new SpanList(pauses, changed);
    this.masks = new SpanList(masks, changed);
  }

  get isPaused(): boolean {
    return this.pauses.isOpen;
  }

  get isMasked(): boolean {
    return this.masks.isOpen;
  }

  pause(reason: string | null, at: TimePoint): void {
    this.pauses.begin(reason, at);
  }

  resume(at: TimePoint): void {
    this.pauses.end(at);
  }

  mask(reason: string | null, at: TimePoint): void {
    this.masks.begin(reason, at);
  }

  unmask(at: TimePoint): void {
    this.masks.end(at);
  }

  /** The recording closes: an open pause or mask ends at `at`, silently. */
  closeAt(at: TimePoint): void {
    this.pauses.closeAt(at);
    this.masks.closeAt(at);
  }
}

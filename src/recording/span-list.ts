// One kind of span in a recording's sidecar (its pauses, or its masks): at most
// one open at a time, appended to `entries` when it begins and given its end
// when it ends or the recording closes. `changed` is called after every begin
// and end, not after closeAt.
import type { IntervalEntry, TimePoint } from './metadata.ts';

export class SpanList {
  private open: IntervalEntry | null = null;

  constructor(
    private readonly entries: IntervalEntry[],
    private readonly changed: () => void,
  ) {}

  get isOpen(): boolean {
    return this.open !== null;
  }

  begin(reason: string | null, at: TimePoint): void {
    if (this.open) return;
    this.open = { reason, start: at, end: null };
    this.entries.push(this.open);
    this.changed();
  }

  end(at: TimePoint): void {
    if (!this.open) return;
    this.open.end = at;
    this.open = null;
    this.changed();
  }

  /** The recording closes: an open span ends at `at`, silently. */
  closeAt(at: TimePoint): void {
    if (this.open) this.open.end = at;
    this.open = null;
  }
}

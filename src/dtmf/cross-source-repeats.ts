// With in-band detection forced on beside telephone-event, a phone that sends
// both would report each key twice: the second report of the same digit from
// the other detector within WINDOW_MS is a repeat.
import type { DtmfEvent } from './dtmf-event.ts';

const WINDOW_MS = 400;

export class CrossSourceRepeats {
  private readonly recent: { digit: string; source: DtmfEvent['source']; at: number }[] = [];

  /** Whether `e` repeats a digit another detector reported within the window (else it is remembered). */
  isRepeat(e: DtmfEvent, now = performance.now()): boolean {
    if (this.recent.some((r) => r.digit === e.digit && r.source !== e.source && now - r.at < WINDOW_MS)) return true;
    this.recent.push({ digit: e.digit, source: e.source, at: now });
    if (this.recent.length > 4) this.recent.shift();
    return false;
  }
}

// One key reported by two carriers is one digit. With in-band detection forced on beside
// telephone-event, a phone that sends both would report each key twice; so does a phone that
// sends each key as SIP INFO and as RFC 4733 events (linphonec with use_info=1, desk phones'
// "RFC 2833 + SIP INFO"). The same digit from another carrier within WINDOW_MS, plus the
// longer of the two reports' durations (an RFC 4733 digit is reported at its end, an INFO
// often at the press), is a repeat; each report pairs with one other at most, so a key
// pressed twice quickly is still two digits.
import type { DtmfEvent } from './dtmf-event.ts';

const WINDOW_MS = 400;
/** A key held longer widens the window no further (RFC 4733 reports a digit at its end; a stuck key runs on). */
const MAX_HELD_MS = 5000;

export class CrossSourceRepeats {
  private readonly recent: { digit: string; source: DtmfEvent['source']; at: number; durationMs: number }[] = [];

  /** Whether `e` repeats a digit another carrier reported just before (that report is then used up; else `e` is remembered). */
  isRepeat(e: DtmfEvent, now = performance.now()): boolean {
    const i = this.recent.findIndex(
      (r) => r.digit === e.digit && r.source !== e.source && now - r.at < WINDOW_MS + Math.min(MAX_HELD_MS, Math.max(r.durationMs, e.durationMs)),
    );
    if (i >= 0) {
      this.recent.splice(i, 1);
      return true;
    }
    this.recent.push({ digit: e.digit, source: e.source, at: now, durationMs: e.durationMs });
    if (this.recent.length > 4) this.recent.shift();
    return false;
  }
}

// Who wants a call leg's digits, for its in-band (Goertzel) DTMF detector: the
// detector costs a filter bank on every frame of the leg, so with media.inbandDtmf
// 'auto' it runs only while a flow step waits for digits (a menu, a collect, a
// prompt with bargeIn), and never on a leg that sends its digits by SIP INFO (one
// DTMF INFO arrived). With 'always' it runs whenever the leg has no telephone-event
// (RFC 4733), as long as the leg sends no INFO. The detector lives in the leg's
// media thread: a change is one small message, never one per frame.
import type { MediaLeg } from '../media-plane/media-api.ts';

export class DigitDemand {
  private wanting = 0;
  private sipInfo = false;

  constructor(
    private readonly leg: MediaLeg,
    private readonly always: boolean,
  ) {}

  /** A flow step waits for digits until it calls the returned release (idempotent). */
  want(): () => void {
    if (this.wanting++ === 0) this.apply();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.wanting === 0) this.apply();
    };
  }

  /** A DTMF SIP INFO arrived: the leg sends its digits that way, the tones need no detector. */
  sipInfoSeen(): void {
    if (this.sipInfo) return;
    this.sipInfo = true;
    this.apply();
  }

  private apply(): void {
    if (this.leg.isClosed) return;
    this.leg.detectInbandDtmf(!this.sipInfo && (this.always || this.wanting > 0) ? 'auto' : false);
  }
}

// Digits between the two connected parties of a bridge (the bridge step's `dtmf: relay`): each
// party's RFC 4733 packets go on to the other as they come (MediaLeg.relayDtmfTo, on the media
// thread), and a digit a party sends as a SIP INFO (application/dtmf-relay, application/dtmf)
// is played to the other as RFC 4733 events (MediaLeg.sendDigit), as SBCs interwork them; a
// party without telephone-event gets both as DTMF tones in its audio (mixer/inband-digits.ts). Parley takes every digit as well (the legs'
// `dtmf` events). Re-paired whenever who is connected changes (a transfer's target).
import type { DtmfEvent } from '../dtmf/dtmf-event.ts';
import type { MediaLeg } from '../media-plane/media-api.ts';

/** An INFO digit without a duration (application/dtmf) is played this long. */
const INFO_DIGIT_MS = 100;

export class BridgeDigits {
  private pair: [MediaLeg, MediaLeg] | null = null;
  private readonly unlisten: (() => void)[] = [];

  constructor(private readonly mode: 'relay' | 'take') {}

  /** `a` and `b` are the connected parties now; the legs paired before relay nothing more. */
  connect(a: MediaLeg, b: MediaLeg): void {
    if (this.mode !== 'relay') return;
    const old = this.pair;
    for (const off of this.unlisten.splice(0)) off();
    for (const leg of old ?? []) if (leg !== a && leg !== b && !leg.isClosed) leg.relayDtmfTo(null);
    this.pair = [a, b];
    if (a.isClosed || b.isClosed) return;
    a.relayDtmfTo(b.id);
    b.relayDtmfTo(a.id);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const onDigit = (e: DtmfEvent): void => {
        if (e.source === 'info' && !to.isClosed) to.sendDigit(e.digit, e.durationMs > 0 ? e.durationMs : INFO_DIGIT_MS);
      };
      from.on('dtmf', onDigit);
      this.unlisten.push(() => from.off('dtmf', onDigit));
    }
  }
}

// Digits between the two connected parties of a bridge (the bridge step's `dtmf: relay`): each
// party's RFC 4733 packets go on to the other as they come (MediaLeg.relayDtmfTo, on the media
// thread), and a digit a party sends as a SIP INFO (application/dtmf-relay, application/dtmf)
// is played to the other as RFC 4733 events (MediaLeg.sendDigit), as SBCs interwork them; a
// party without telephone-event gets both as DTMF tones in its audio (mixer/inband-digits.ts).
// The other way round, the DTMF tones a party without telephone-event sends (an analog gateway,
// an old PBX) are found by the in-band detector, which runs on that leg while its peer has
// telephone-event, and each digit goes to the peer as RFC 4733 events once its tone ends (as
// Asterisk interworks inband and rfc4733 legs); the tone itself stays in the audio. A digit
// heard back from a party soon after the other party's same digit was played to it as tones
// (a line echo of them) is not sent back. Parley takes every digit as well (the legs' `dtmf`
// events). Re-paired whenever who is connected changes (a transfer's target), and when a
// re-INVITE adds or drops telephone-event on either side.
import type { DtmfEvent } from '../dtmf/dtmf-event.ts';
import type { MediaLeg } from '../media-plane/media-api.ts';

/** An INFO digit without a duration (application/dtmf) is played this long. */
const INFO_DIGIT_MS = 100;
/**
 * How long, beyond its length, an INFO digit from a party with telephone-event waits for the same
 * key's RFC 4733 events (reported at their end): the window CrossSourceRepeats pairs them in.
 */
const INFO_WAIT_MS = 400;
/** The gap InbandDigits leaves after each tone. */
const TONE_GAP_MS = 50;
/** After a tone played to a party ends, how long the same digit from it is taken for its echo (detection, a tick, the threads). */
const ECHO_MARGIN_MS = 600;

export interface BridgeDigitsOptions {
  /** The caller's leg, whose in-band detector its call's DigitDemand owns. */
  callerLeg: MediaLeg;
  /** Turns the caller's detector on for as long as the returned release is not called (SipCall.wantDigits). */
  wantCallerDigits: () => () => void;
  /** media.inbandDtmf: 'always': a callee's detector goes back to 'auto' when the bridge lets go, not off. */
  always: boolean;
}

export class BridgeDigits {
  private pair: [MediaLeg, MediaLeg] | null = null;
  /** INFO digits waiting to see whether their key's RFC 4733 events come too (each timer cleared by release()). */
  private readonly deferred: { from: MediaLeg; digit: string; timer: NodeJS.Timeout }[] = [];
  private readonly unlisten: (() => void)[] = [];
  /** Per leg: when the tones played to it end (queued digits play one after another), and the digits it may echo until when. */
  private readonly tones = new Map<MediaLeg, { endsAt: number; echoes: { digit: string; until: number }[] }>();

  constructor(
    private readonly mode: 'relay' | 'take',
    private readonly opts?: BridgeDigitsOptions,
  ) {}

  /** `a` and `b` are the connected parties now; the legs paired before relay nothing more. */
  connect(a: MediaLeg, b: MediaLeg): void {
    if (this.mode !== 'relay') return;
    const old = this.pair;
    this.release();
    for (const leg of old ?? []) if (leg !== a && leg !== b && !leg.isClosed) leg.relayDtmfTo(null);
    this.pair = [a, b];
    if (a.isClosed || b.isClosed) return;
    a.relayDtmfTo(b.id);
    b.relayDtmfTo(a.id);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const onDigit = (e: DtmfEvent): void => {
        if (to.isClosed) return;
        const toneTo = to.media?.dtmf == null;
        if (e.source === 'info') {
          const ms = e.durationMs > 0 ? e.durationMs : INFO_DIGIT_MS;
          // A party with telephone-event may send the key as RFC 4733 events too, which the media
          // thread relays as they come: the INFO is played only if no such events follow it.
          if (!toneTo && from.media?.dtmf != null) this.deferInfo(from, to, e.digit, ms);
          else {
            to.sendDigit(e.digit, ms);
            if (toneTo) this.playedTo(to, e.digit, ms);
          }
        } else if (e.source === 'rfc4733') {
          // Relayed on the media thread; a party without telephone-event hears it as a tone.
          if (toneTo) this.playedTo(to, e.digit, e.durationMs);
        } else if (!toneTo && from.media?.dtmf == null && !this.isEcho(from, e.digit)) {
          // (A leg with telephone-event sends its digits as events: tones found in its audio are not sent again.)
          to.sendDigit(e.digit, e.durationMs);
        }
      };
      from.on('dtmf', onDigit);
      this.unlisten.push(() => from.off('dtmf', onDigit));
      // The RFC 4733 events of a key whose INFO came first (relayed already): its INFO is not played.
      const onRepeat = (e: DtmfEvent): void => {
        if (e.source !== 'rfc4733') return;
        const i = this.deferred.findIndex((x) => x.from === from && x.digit === e.digit);
        if (i < 0) return;
        clearTimeout(this.deferred[i]!.timer);
        this.deferred.splice(i, 1);
      };
      from.on('dtmfrepeat', onRepeat);
      this.unlisten.push(() => from.off('dtmfrepeat', onRepeat));
      // A party without telephone-event whose peer has it: its tones are looked for (while it has none: 'auto').
      if (this.opts && from.media?.dtmf == null && to.media?.dtmf != null) this.unlisten.push(this.detect(from));
    }
    // A re-INVITE that adds or drops telephone-event on either side: paired again (who is detected changes).
    const te = (l: MediaLeg): boolean => l.media?.dtmf != null;
    const was = [te(a), te(b)];
    const onMedia = (): void => {
      if (!a.isClosed && !b.isClosed && (te(a) !== was[0] || te(b) !== was[1])) this.connect(a, b);
    };
    for (const l of [a, b]) {
      l.on('media', onMedia);
      this.unlisten.push(() => l.off('media', onMedia));
    }
  }

  /** The bridge is over: nothing more is relayed or detected for it. */
  close(): void {
    this.release();
    this.pair = null;
  }

  private release(): void {
    for (const off of this.unlisten.splice(0)) off();
    this.tones.clear();
    for (const d of this.deferred.splice(0)) clearTimeout(d.timer);
  }

  /** `digit`, an INFO from `from`, is played to `to` once INFO_WAIT_MS and its length pass without its RFC 4733 events. */
  private deferInfo(from: MediaLeg, to: MediaLeg, digit: string, ms: number): void {
    const entry = {
      from,
      digit,
      timer: setTimeout(() => {
        const i = this.deferred.indexOf(entry);
        if (i >= 0) this.deferred.splice(i, 1);
        if (!to.isClosed) to.sendDigit(digit, ms);
      }, INFO_WAIT_MS + ms),
    };
    this.deferred.push(entry);
  }

  private detect(leg: MediaLeg): () => void {
    const o = this.opts!;
    if (leg === o.callerLeg) return o.wantCallerDigits();
    leg.detectInbandDtmf('auto');
    return () => {
      if (!leg.isClosed) leg.detectInbandDtmf(o.always ? 'auto' : false);
    };
  }

  /** `digit` is played to `leg` as a tone `ms` long, after what is queued before it. */
  private playedTo(leg: MediaLeg, digit: string, ms: number): void {
    const now = performance.now();
    let t = this.tones.get(leg);
    if (!t) this.tones.set(leg, (t = { endsAt: now, echoes: [] }));
    t.endsAt = Math.max(now, t.endsAt) + ms + TONE_GAP_MS;
    t.echoes = t.echoes.filter((x) => x.until >= now);
    t.echoes.push({ digit, until: t.endsAt + ECHO_MARGIN_MS });
  }

  /** Whether `digit` from `leg` is the echo of one played to it (then taken off the list). */
  private isEcho(leg: MediaLeg, digit: string): boolean {
    const t = this.tones.get(leg);
    if (!t) return false;
    const now = performance.now();
    const i = t.echoes.findIndex((x) => x.digit === digit && x.until >= now);
    if (i < 0) return false;
    t.echoes.splice(i, 1);
    return true;
  }
}

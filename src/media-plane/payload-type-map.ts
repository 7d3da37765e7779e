// The payload type numbers one leg's RTP session has bound, in either side's SDP.
// RFC 3264 §8.3.2: "the mapping from a particular dynamic payload type number to a
// particular codec within that media stream MUST NOT change for the duration of a
// session", in any offer or answer of either side. Our later offers (the re-offer in a
// 200 to an offerless re-INVITE) take their numbers from here.
import { CODECS, type CodecName } from '../mixer/codecs/audio-codec.ts';
import { OFFER_DTMF_PT, OFFER_PT, ptKey, type OfferPts } from './sdp-negotiator.ts';

const DYNAMIC_FIRST = 96;
const DYNAMIC_LAST = 127;

export class PayloadTypeMap {
  /** pt → the codec (ptKey) it was first bound to. */
  private readonly byPt = new Map<number, string>();
  /** ptKey → the first pt bound to it. */
  private readonly byKey = new Map<string, number>();

  /** Records a binding seen in an SDP; a number already bound to another codec keeps its first one. */
  note(pt: number, key: string): void {
    const bound = this.byPt.get(pt);
    if (bound === undefined) this.byPt.set(pt, key);
    else if (bound !== key) return;
    if (!this.byKey.has(key)) this.byKey.set(key, pt);
  }

  /** The payload types for an offer of `codecs`: the session's own, else ours when free, else a free dynamic one. */
  offerPts(codecs: readonly CodecName[]): OfferPts {
    const c = {} as Record<CodecName, number>;
    for (const codec of codecs) c[codec] = this.choose(ptKey(CODECS[codec].name, CODECS[codec].rtpClock), OFFER_PT[codec]);
    const dtmf: Record<number, number> = { 8000: this.choose(ptKey('telephone-event', 8000), OFFER_DTMF_PT[8000]) };
    if (codecs.includes('opus')) dtmf[48000] = this.choose(ptKey('telephone-event', 48000), OFFER_DTMF_PT[48000]);
    return { codecs: c, dtmf };
  }

  private choose(key: string, preferred: number): number {
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    let pt = preferred;
    if (this.byPt.has(pt)) {
      pt = -1;
      for (let p = DYNAMIC_FIRST; p <= DYNAMIC_LAST && pt < 0; p++) if (!this.byPt.has(p)) pt = p;
      // All 32 dynamic numbers bound (no real SDP does that): the preferred one, as before.
      if (pt < 0) return preferred;
    }
    this.note(pt, key);
    return pt;
  }
}

// Delayed offer: a caller's INVITE without SDP gets Parley's offer, in a reliable 183 whose
// PRACK brings the answer (RFC 3262 §5), or in the 200 whose ACK brings it (RFC 3261
// §13.2.1). Until the answer is in, the offer is pending: an offer from the caller then is
// glare (early-dialog.ts, dialog-util.ts's answerReoffers), and a missing or unusable
// answer ends the call (488). Which response carries the offer is SipCall.answer()'s choice.
import type Srf from 'drachtio-srf';
import { SdpNegotiationError } from '../media-plane/media-errors.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { UNUSABLE_ANSWER_REASON } from './dialog-util.ts';
import { sendReliable183, type SentResponse } from './reliable-183.ts';
import type { SipCall } from './sip-call.ts';

/** Where the answer to our offer arrives: the dialog's 'ack', or the reliable 183's 'prack'. */
export interface AnswerSource {
  once(event: string, listener: (req: Srf.SrfRequest) => void): unknown;
}

export class CallerOffer {
  private waiting: boolean;

  /** `pending`: the INVITE had no SDP, so Parley's offer goes out (else there is nothing to wait for). */
  constructor(
    private readonly call: SipCall,
    pending: boolean,
  ) {
    this.waiting = pending;
  }

  /** Parley's offer is out (or about to be) and its answer has not arrived. */
  get pending(): boolean {
    return this.waiting;
  }

  /** RFC 3262 §5: the offer (`sdp`) in a reliable 183, the answer in its PRACK; `onSent` gets the 183 as sent. */
  async inReliable183(res: Srf.SrfResponse, sdp: string, onSent: (msg: SentResponse | undefined) => void): Promise<void> {
    const log = this.call.log;
    const prack = new TypedEmitter<{ prack: [req: Srf.SrfRequest] }>(log);
    sendReliable183(res, sdp, log, (req: Srf.SrfRequest) => prack.safeEmit('prack', req), undefined, onSent);
    log.info('early media (reliable 183 with our offer)');
    await this.answerFrom(prack, 'prack', 'PRACK');
  }

  /** Waits for the request carrying the answer to our offer and applies it; a missing or unusable one ends the call (488). */
  async answerFrom(source: AnswerSource, event: string, what: string): Promise<void> {
    const call = this.call;
    const req = await new Promise<Srf.SrfRequest | null>((resolve) => {
      const onEnded = (): void => resolve(null);
      call.once('ended', onEnded);
      source.once(event, (r: Srf.SrfRequest) => {
        call.off('ended', onEnded);
        resolve(r);
      });
    });
    // The other exchange (PRACK or ACK) may have brought the answer already.
    if (!req || call.ended || !this.waiting) return;
    try {
      if (!req.body?.trim()) throw new SdpNegotiationError(`no SDP answer in the ${what}`, 399);
      await call.leg.applyAnswer(req.body);
      this.waiting = false;
      call.log.info({ in: what }, 'the caller answered our offer');
    } catch (err) {
      call.log.warn({ err, in: what }, 'no usable answer to our offer; ending the call');
      call.endForCause(UNUSABLE_ANSWER_REASON, `no usable answer in the ${what}`, 488);
    }
  }
}

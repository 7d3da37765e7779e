// An UPDATE in the early dialog a reliable 183 makes (RFC 3262 §4, RFC 3311 §5.1), before the
// 200: a session refresh without SDP, or a new offer once the first offer/answer is done.
// drachtio-srf hands it to the INVITE's request ('update'), and answers it 500 when nobody
// listens.
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { Logger } from '../util/logger.ts';
import { warningHeader } from './dialog-util.ts';
import { SdpNegotiationError } from '../media-plane/media-errors.ts';

export interface EarlyDialogCall {
  readonly leg: MediaLeg;
  readonly log: Logger;
  /** Our SDP for the 200 follows a new offer taken in the early dialog. */
  earlyAnswerTaken(sdp: string): void;
}

/** Answers an UPDATE in `call`'s early dialog. `offerPending`: our own offer awaits its answer. */
export function answerEarlyUpdate(call: EarlyDialogCall, req: Srf.SrfRequest, res: Srf.SrfResponse, offerPending: boolean): void {
  const body = req.body ?? '';
  if (body.trim() === '' || call.leg.isClosed) {
    res.send(200);
    return;
  }
  if (offerPending) {
    // RFC 3311 §5.2: an offer while ours is unanswered.
    res.send(491);
    return;
  }
  call.leg
    .applyOffer(body)
    .then((sdp) => {
      call.earlyAnswerTaken(sdp);
      res.send(200, { body: sdp, headers: { 'Content-Type': 'application/sdp' } });
    })
    .catch((err: unknown) => {
      call.log.warn({ err }, 'UPDATE offer in the early dialog refused');
      if (err instanceof SdpNegotiationError) res.send(488, { headers: { Warning: warningHeader(err) } });
      else res.send(488);
    });
}

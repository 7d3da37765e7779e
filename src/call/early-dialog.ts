// An UPDATE in the early dialog a reliable 183 makes (RFC 3262 §4, RFC 3311 §5.1), before the
// 200: a session refresh without SDP, or a new offer once the first offer/answer is done.
// drachtio-srf hands it to the INVITE's request ('update'), and answers it 500 when nobody
// listens. Other requests of that early dialog (an INFO with a key pressed while a notice or
// a menu plays in early media), or of the one a 180 made (RFC 3261 §12.1: a 1xx with a To
// tag, reliable or not; a REFER while a bridge rings the callee), reach the app's router,
// since drachtio-srf has no dialog before the 200: takeEarlyRequest() gives an INFO or a
// REFER to its call (drachtio-srf answered a REFER 404, an INFO was answered 481).
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

export interface EarlyRequestCall {
  readonly req: Srf.SrfRequest;
  readonly inEarlyDialog: boolean;
  readonly answered: boolean;
  readonly ended: boolean;
  /** The To tag of the call's early dialog (its 183's), null while unknown. */
  readonly earlyToTag: string | null;
  onInfo(req: Srf.SrfRequest, res: Srf.SrfResponse): void;
}

/**
 * A request with a To tag that drachtio-srf found no dialog for: when it is an INFO in the
 * early dialog of `call` (its From tag the INVITE's, its To tag our 183's: a real
 * drachtio-server passes such requests on without matching them to a dialog), the call
 * handles it as it does in the confirmed dialog (DTMF); a REFER in an early dialog of the
 * call goes to `onRefer`, which answers it as the confirmed dialog's REFER would be before
 * the call is connected. False when it is not the call's: the router answers 481.
 */
export function takeEarlyRequest(
  call: EarlyRequestCall | undefined,
  req: Srf.SrfRequest,
  res: Srf.SrfResponse,
  onRefer: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void,
): boolean {
  if (!call || call.answered || call.ended) return false;
  if (tagOf(req.get('From')) !== tagOf(call.req.get('From'))) return false;
  const toTag = tagOf(req.get('To'));
  if (req.method === 'INFO') {
    if (!call.inEarlyDialog || call.earlyToTag === null || toTag !== call.earlyToTag) return false;
    call.onInfo(req, res);
    return true;
  }
  if (req.method !== 'REFER') return false;
  // A 183's early dialog has its tag known; a 180's (the bridge's, sent without asking for it)
  // does not, and then the SIP server matched the tags to an early dialog of this INVITE
  // (all its 1xx carry one To tag) before passing the REFER on.
  if (call.earlyToTag !== null && toTag !== call.earlyToTag) return false;
  onRefer(req, res);
  return true;
}

function tagOf(header: string | undefined): string | undefined {
  return /;\s*tag\s*=\s*([^;>\s]+)/i.exec(header ?? '')?.[1];
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

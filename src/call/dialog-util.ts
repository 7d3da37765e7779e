// drachtio-srf's Dialog.destroy() returns a promise that rejects when the dialog
// is already gone (the other side's BYE crossed ours). Hang-ups are fire and
// forget here: pass a callback so nothing is left unhandled, and log the outcome.
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { Logger } from '../util/logger.ts';

export function destroyDialog(dialog: Srf.Dialog, log: Logger, headers?: Record<string, string>): void {
  try {
    dialog.destroy(headers ? { headers } : undefined, (err: unknown) => {
      if (err) log.debug({ err }, 'BYE not sent (dialog already gone)');
    });
  } catch (err) {
    log.debug({ err }, 'BYE not sent');
  }
}

/**
 * Answers the peer's re-INVITEs and UPDATEs (RFC 3311 §5.2) on a dialog from its
 * media leg (hold, resume, a new address or codec): RFC 3264 §6, the answer
 * reflects this offer, never our original SDP (drachtio-srf's default without a
 * 'modify' or 'update' listener). An offer that cannot be taken gets 488 and the
 * leg stays as it was. An UPDATE without a body (a session refresh) gets a bare 200.
 */
export function answerReoffers(dialog: Srf.Dialog, leg: MediaLeg, log: Logger): void {
  dialog.on('update', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    const body = req.body ?? '';
    if (body.trim() === '' || leg.isClosed) {
      res.send(200);
      return;
    }
    leg
      .applyOffer(body)
      .then((sdp) => {
        dialog.local.sdp = sdp;
        res.send(200, { body: sdp, headers: { 'Content-Type': 'application/sdp' } });
      })
      .catch((err: unknown) => {
        log.warn({ err }, 'UPDATE offer refused');
        res.send(488);
      });
  });
  dialog.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    const body = req.body ?? '';
    // An offerless re-INVITE (RFC 3261 §14.2): our current SDP is the offer in the 200.
    const answering = body.trim() === '' || leg.isClosed ? Promise.resolve(leg.localSdp) : leg.applyOffer(body);
    answering
      .then((sdp) => {
        dialog.local.sdp = sdp;
        res.send(200, { body: sdp, headers: { 'Content-Type': 'application/sdp' } });
      })
      .catch((err: unknown) => {
        log.warn({ err }, 're-INVITE offer refused');
        res.send(488);
      });
  });
}

/** Where an incoming call's INVITE stands: the shape SipCall and SiprecCall share for the guard and hang-ups. */
export interface InviteState {
  readonly ended: boolean;
  /** createUAS is sending the 200: neither unanswered nor confirmed for a moment. */
  readonly answering: boolean;
  readonly uas: Srf.Dialog | null;
  readonly res: Srf.SrfResponse;
  readonly canceled: boolean;
  readonly createdAt: number;
}

/**
 * Why no SIP dialog keeps a call alive any more, or null while one does (a
 * confirmed dialog, or an INVITE still waiting for its final response and not
 * older than `maxUnansweredMs`). CallManager's guard asks.
 */
export function inviteDeadReason(s: InviteState, now: number, maxUnansweredMs: number): string | null {
  if (s.ended || s.answering) return null;
  if (s.uas) return (s.uas as { connected?: boolean }).connected === false ? 'its dialog is gone' : null;
  if (s.canceled) return 'its INVITE was canceled';
  if (s.res.finalResponseSent) return 'its INVITE got a final response';
  if (now - s.createdAt > maxUnansweredMs) return `unanswered for ${Math.round((now - s.createdAt) / 1000)} s`;
  return null;
}

/**
 * Parley hangs up: a BYE on a confirmed dialog, else a final response (480 unless
 * `status`) if none went out. Returns why the call ends, for its 'ended' event.
 */
export function hangupInvite(s: InviteState, log: Logger, status?: number, reason?: string): string {
  if (s.uas) destroyDialog(s.uas, log);
  else if (!s.res.finalResponseSent) {
    if (reason) s.res.send(status ?? 480, reason, {});
    else s.res.send(status ?? 480);
  }
  return s.uas ? 'hung up by Parley' : `rejected ${status ?? 480}`;
}

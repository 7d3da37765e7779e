// What the caller's dialog of a SipCall answers besides its BYE: DTMF INFO, a REFER (taken
// by the call's bridge or conference, else refused), re-INVITE and UPDATE offers on the
// caller's leg. The same for the call's first dialog and for one that replaced it by an
// INVITE with Replaces (caller-replacing.ts); a replaced dialog is retired, and its BYE or a
// late offer then changes nothing.
import type Srf from 'drachtio-srf';
import { ackWaitMs, answerReoffers, refuseRefer } from './dialog-util.ts';
import { peerHold } from './hold.ts';
import { CALLER_LEG, type SipCall } from './sip-call.ts';

const retired = new WeakSet<Srf.Dialog>();

/** `d` no longer speaks for its call's caller: an INVITE with Replaces took its place. */
export function retire(d: Srf.Dialog): void {
  retired.add(d);
}

export function isRetired(d: Srf.Dialog): boolean {
  return retired.has(d);
}

/** `offerInAckOf`: a delayed offer's INVITE CSeq, whose ACK carries the answer (RFC 3261 §13.2.1). */
export function answerCallerDialog(call: SipCall, d: Srf.Dialog, offerInAckOf?: number): void {
  d.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    if (isRetired(d)) res.send(481);
    else call.onInfo(req, res);
  });
  d.on('refer', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    if (isRetired(d)) return void res.send(481);
    answerCallerRefer(call, req, res);
  });
  // A delayed offer whose offer went in the 200: a re-INVITE or UPDATE offer before its ACK
  // (the answer) is glare, 491 (a real drachtio-server hands it to the app).
  answerReoffers(d, call.leg, call.log, {
    ackWaitMs: ackWaitMs(call.deps.settings.sipT1 ?? 500),
    onEnd: (reason, why) => call.endForCause(reason, why),
    offerInAckOf,
    onPeerOffer: () => {
      if (!call.ended && !isRetired(d)) call.holds.note(CALLER_LEG, peerHold(call.leg.media));
    },
    outgoing: call.holds.callerOutgoing,
  });
}

/**
 * A REFER from the caller, in its confirmed dialog or (early-dialog.ts) an early one: a bridge
 * carries out the caller's transfer, a conference under `transfers: members` too (each
 * answers 491 while the call is not connected yet); elsewhere it is refused.
 */
export function answerCallerRefer(call: SipCall, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
  if (call.currentBridge?.takeCallerRefer(req, res)) return;
  if (call.referTaker) call.referTaker(req, res);
  else refuseRefer(req, res, call.log);
}

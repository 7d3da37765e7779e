// An INVITE with Replaces (RFC 3891) naming the caller's dialog of a call that no bridge
// holds: an IVR, a prompt, a voicemail, a recording. In an attended transfer the party that
// called Parley (an agent who dialled the payment IVR and consulted it) transfers its own
// caller there: that caller's phone sends Parley this INVITE. The new party takes the
// caller's place on the caller's own leg (its offer applied to the leg as a re-offer would
// be), so the flow goes on where it is: the prompt playing is heard by the new party, its
// digits are the flow's, the recording's caller stem goes on with it (a `replaced` note marks
// when), its re-INVITEs, holds and BYE are the call's. The replaced dialog gets a BYE.
// - Tags that are not the dialog's: 481. The call not answered yet, ending, or its caller
//   being replaced already: 403 with a Warning. No offer, or one Parley cannot use: 488, the
//   caller untouched. A replacing INVITE that then fails (CANCEL) gives the caller its own
//   media back; a caller that hung up meanwhile ends the call.
import type Srf from 'drachtio-srf';
import { isRetired } from './caller-dialog.ts';
import { createUas, destroyDialog } from './dialog-util.ts';
import { peerHold } from './hold.ts';
import { parseNameAddr } from './name-addr.ts';
import type { ReplacesId } from './refer-request.ts';
import { withReplacingOffer } from './replacing-invite.ts';
import { CALLER_LEG, type SipCall } from './sip-call.ts';

/** Calls whose caller is being replaced now (one INVITE with Replaces at a time). */
const replacing = new WeakSet<SipCall>();

/** Answers an INVITE whose Replaces names `call`'s caller dialog (its Call-ID matched). */
export function takeReplacingCaller(call: SipCall, id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
  const refuse = (status: number, why: string): void => {
    call.log.info({ status, why, replaces: id.callId }, 'INVITE with Replaces for the caller refused');
    res.send(status, { headers: { Warning: `399 parley "${why}"` } });
  };
  const uas = call.callerDialog;
  if (uas && (uas.sip.localTag !== id.toTag || uas.sip.remoteTag !== id.fromTag)) return refuse(481, "its Replaces names a call of this Parley but not its dialog's tags");
  if (!uas || call.ended || call.leg.isClosed || replacing.has(call)) return refuse(403, 'that caller is not connected (not answered yet, ending, or being replaced)');
  replacing.add(call);
  replace(call, uas, req, res)
    .catch((err: unknown) => {
      call.log.error({ err }, 'replacing the caller failed');
      if (!res.finalResponseSent) res.send(500);
    })
    .finally(() => replacing.delete(call));
}

async function replace(call: SipCall, old: Srf.Dialog, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
  const log = call.log;
  const answer = await withReplacingOffer(req, res, (offer) => call.leg.applyOffer(offer));
  if (answer === null) return;
  // From here the caller's leg sends to the new party. Until its dialog is made, the old one
  // still ends the call (the caller hung up meanwhile); a failed INVITE gives the caller its media back.
  let uas: Srf.Dialog;
  try {
    uas = await createUas(call.deps.srf, req, res, { localSdp: answer }, (d) => call.bindCallerDialog(d));
  } catch (err) {
    log.info({ err }, 'the INVITE replacing the caller was not answered (CANCEL, or the SIP server failed)');
    if (!call.ended && !isRetired(old) && old.remote?.sdp) {
      await call.leg.applyOffer(old.remote.sdp).catch((e: unknown) => {
        log.warn({ err: e }, "the caller's own media could not be restored: ending the call");
        call.hangup();
      });
    }
    return;
  }
  if (call.ended) {
    destroyDialog(uas, log);
    return;
  }
  call.swapCallerDialog(uas);
  destroyDialog(old, log);
  call.holds.note(CALLER_LEG, peerHold(call.leg.media));
  const from = parseNameAddr(req.get('From'));
  call.activeRecording?.transfer({ event: 'replaced', leg: CALLER_LEG, target: from.uri, newLeg: CALLER_LEG });
  log.info({ uri: from.uri, callId: uas.sip.callId }, "INVITE with Replaces: the new party took the caller's place");
}

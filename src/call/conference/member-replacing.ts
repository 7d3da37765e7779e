// An INVITE with Replaces (RFC 3891) naming a conference member's dialog with Parley: an
// attended transfer into a conference. An agent calls the room (its consultation call), then
// transfers its customer there; the customer's phone sends Parley an INVITE whose Replaces
// names the agent's dialog. The new party takes the member's place: a leg of its own in the
// member's call room (where the link into the conference is), so it hears the room and the
// room hears it; the member gets a BYE; the call goes on with the new party's dialog (its BYE
// ends it, its re-INVITEs and holds are answered as the member's were, its digits are the
// call's), and the call's recording goes on with a stem for it (`caller-2`, a `replaced` note).
// The roster shows the new party in the member's place (leave `replaced`, then join), unless
// the member joined hidden or impersonating, whose entry stays as it is.
// Refused: tags that are not the member's dialog's 481; a member already replaced or whose call
// is ending 403; a new party whose URI is in the room already 486; no usable offer 488.
import type Srf from 'drachtio-srf';
import type { Logger } from '../../util/logger.ts';
import { ackWaitMs, answerReoffers, createUas, destroyDialog, refuseRefer, serverByeReason } from '../dialog-util.ts';
import { answerLegInfo } from '../dtmf-info.ts';
import { peerHold } from '../hold.ts';
import { parseNameAddr } from '../name-addr.ts';
import { MEDIA_TIMEOUT_REASON } from '../reasons.ts';
import type { ReplacesId } from '../refer-request.ts';
import { legForReplacingInvite } from '../replacing-invite.ts';
import { CALLER_LEG, type SipCall } from '../sip-call.ts';
import type { Conference } from './conference-manager.ts';
import type { RosterEntry } from './roster.ts';

/** The leg id of the party that replaced a member, in the member's call room and recording. */
export const REPLACING_LEG = 'caller-2';

/** Takes an INVITE whose Replaces names `call`'s dialog (the call of a member of `conf`, roster `entry`); answers it. */
export function takeMemberReplacing(call: SipCall, conf: Conference, entry: RosterEntry, id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
  const log = call.log.child({ room: conf.name });
  const refuse = (status: number, why: string): void => {
    log.info({ status, why, replaces: id.callId }, 'INVITE with Replaces for a conference member refused');
    res.send(status, { headers: { Warning: `399 parley "${why}"` } });
  };
  const uas = call.callerDialog;
  if (uas && (uas.sip.localTag !== id.toTag || uas.sip.remoteTag !== id.fromTag)) return refuse(481, "its Replaces names a call of this Parley but not its dialog's tags");
  if (!uas || call.ended || call.leg.isClosed) return refuse(403, 'that member is not connected (ending, or replaced already)');
  const from = parseNameAddr(req.get('From'));
  if (entry.identity === 'normal' && conf.roster.all.some((e) => e.legId !== entry.legId && e.identity !== 'generated' && e.uri === from.uri)) {
    return refuse(486, `${from.uri.slice(0, 80)} is in the room already`);
  }
  replace(call, conf, entry, uas, from, req, res, log).catch((err: unknown) => {
    log.error({ err }, 'replacing a conference member failed');
    if (!res.finalResponseSent) res.send(500);
  });
}

async function replace(call: SipCall, conf: Conference, entry: RosterEntry, old: Srf.Dialog, from: { uri: string; displayName: string }, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger): Promise<void> {
  const created = await legForReplacingInvite(call.room, REPLACING_LEG, req, res);
  if (!created) return;
  const { leg, answer } = created;
  if (call.ended || call.leg.isClosed) {
    leg.close();
    res.send(481);
    return;
  }
  // The old dialog's BYE (Parley's below, or the member's own) no longer ends the call; the
  // member's own BYE meanwhile still does when the new party then does not come.
  let memberGone = false;
  call.handOverCaller(() => void (memberGone = true));
  let ended = false;
  let uas: Srf.Dialog;
  try {
    uas = await createUas(call.deps.srf, req, res, { localSdp: answer }, (d) => {
      d.on('destroy', (bye?: Srf.SrfRequest) => {
        ended = true;
        const reason = serverByeReason(bye);
        if (reason) call.endForCause(reason, `the dialog of the party that replaced the member was ended by the SIP server (${reason})`);
        else call.end('the party that replaced the member hung up');
      });
      d.on('info', (r: Srf.SrfRequest, s: Srf.SrfResponse) => answerLegInfo(leg, r, s, log, { leg: REPLACING_LEG }, 'a DTMF INFO from the party that replaced the member'));
      d.on('refer', (r: Srf.SrfRequest, s: Srf.SrfResponse) => refuseRefer(r, s, log));
      answerReoffers(d, leg, log, {
        ackWaitMs: ackWaitMs(call.deps.settings.sipT1 ?? 500),
        onEnd: (reason, why) => call.endForCause(reason, why),
        onPeerOffer: () => {
          if (!call.ended) call.holds.note(REPLACING_LEG, peerHold(leg.media));
        },
      });
    });
  } catch (err) {
    call.handOverCaller(null);
    leg.close();
    log.info({ err }, 'the replacing INVITE was not answered (CANCEL, or the SIP server failed)');
    if (memberGone) call.end('the member hung up while it was being replaced, and the replacing INVITE failed');
    return;
  }
  if (call.ended) {
    leg.close();
    destroyDialog(uas, log);
    return;
  }
  call.once('ended', () => {
    if (!ended) destroyDialog(uas, log, call.reasonHeader ? { Reason: call.reasonHeader } : undefined);
  });
  leg.on('dtmf', (e) => call.safeEmit('dtmf', e.digit, e.durationMs));
  leg.watchMedia();
  leg.on('mediatimeout', (s) => call.endForCause(MEDIA_TIMEOUT_REASON, `media timeout: no RTP from the party that replaced the member for ${s} s`));
  // The member leaves: its BYE, its leg and stem; the new party's stem starts.
  const recorder = call.activeRecording?.recorder;
  call.activeRecording?.transfer({ event: 'replaced', leg: CALLER_LEG, target: from.uri, newLeg: REPLACING_LEG });
  if (recorder && !recorder.isClosed) {
    recorder.removeLeg(CALLER_LEG);
    recorder.addLeg(REPLACING_LEG, { uri: from.uri, displayName: from.displayName || null, identity: 'normal', callId: uas.sip.callId, originalTo: call.originalTo.uri, role: 'caller', stereo: 'left' });
  }
  call.holds.forget(CALLER_LEG);
  call.leg.close();
  destroyDialog(old, log);
  if (entry.identity === 'normal') {
    conf.roster.leave(entry.legId, 'replaced');
    try {
      conf.roster.join({ legId: entry.legId, callId: call.callId, uri: from.uri, displayName: from.displayName, identity: 'normal' });
    } catch (err) {
      // Its URI joined meanwhile (checked before the answer): the party is heard, unlisted.
      log.warn({ err, uri: from.uri }, 'the party that replaced a member could not take its roster entry');
    }
  }
  log.info({ leg: REPLACING_LEG, uri: from.uri }, 'INVITE with Replaces: connected in place of the conference member it named');
}

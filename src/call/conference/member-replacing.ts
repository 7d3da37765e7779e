// An INVITE with Replaces (RFC 3891) naming a conference member's dialog with Parley: an
// attended transfer into a conference. An agent calls the room (its consultation call), then
// transfers its customer there; the customer's phone sends Parley an INVITE whose Replaces
// names the agent's dialog. The new party takes the member's place: a leg of its own in the
// member's call room (where the link into the conference is), so it hears the room and the
// room hears it; the member gets a BYE; the call goes on with the new party's dialog (its BYE
// ends it, its re-INVITEs and holds are answered as the member's were, its digits are the
// call's), and the call's recording goes on with a stem for it (`caller-2`, a `replaced` note).
// The party that took the place holds it as the member did: a further INVITE with Replaces
// naming its dialog puts the next party there (`caller-3`, …), and so on.
// The roster shows the new party in the member's place (leave `replaced`, then join), unless
// the member joined hidden or impersonating, whose entry stays as it is.
// Refused: tags that are not the named dialog's 481; a dialog that no longer holds the place
// (replaced already), a place being replaced, or a call ending 403; a new party whose URI is in
// the room already 486; no usable offer 488.
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../../media-plane/media-api.ts';
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

/** The leg id of the first party that replaced a member, in the member's call room and recording (the next: caller-3, …). */
export const REPLACING_LEG = 'caller-2';

/** Who holds a member's place: the member's own dialog and leg, or a party that replaced it. */
interface PlaceHolder {
  legId: string;
  /** Its dialog's Call-ID: what a Replaces names. */
  callId: string;
  dialog(): Srf.Dialog | null;
  connected(): boolean;
  /** While set, its BYE calls this instead of ending the call (it is being replaced); null: it ends the call again. */
  handOver(onGone: (() => void) | null): void;
  /** It has been replaced: its leg closed, its hold forgotten, its dialog BYEd. */
  release(log: Logger): void;
}

/** A member's place in a room, held by one party after another (conference-manager.ts makes one per member). */
export class MemberPlace {
  holder: PlaceHolder;
  private replacing = false;
  private legs = 1;

  /** `taken`: the Call-ID of each new holder's dialog, so that an INVITE with Replaces naming it finds this place. */
  constructor(
    readonly call: SipCall,
    private readonly taken: (callId: string) => void,
  ) {
    this.holder = {
      legId: CALLER_LEG,
      callId: call.callId,
      dialog: () => call.callerDialog,
      connected: () => call.callerDialog !== null && !call.leg.isClosed,
      handOver: (onGone) => call.handOverCaller(onGone),
      release: (log) => {
        const old = call.callerDialog;
        leaveHold(call, CALLER_LEG);
        call.leg.close();
        if (old) destroyDialog(old, log);
      },
    };
  }

  /** Takes an INVITE whose Replaces names a dialog of this place (`conf`, roster `entry`); answers it. */
  take(conf: Conference, entry: RosterEntry, id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const call = this.call;
    const log = call.log.child({ room: conf.name });
    const refuse = (status: number, why: string): void => {
      log.info({ status, why, replaces: id.callId }, 'INVITE with Replaces for a conference member refused');
      res.send(status, { headers: { Warning: `399 parley "${why}"` } });
    };
    const h = this.holder;
    const uas = h.callId === id.callId ? h.dialog() : null;
    if (uas && (uas.sip.localTag !== id.toTag || uas.sip.remoteTag !== id.fromTag)) return refuse(481, "its Replaces names a call of this Parley but not its dialog's tags");
    if (!uas || call.ended || !h.connected() || this.replacing) return refuse(403, 'that member is not connected (ending, being replaced, or replaced already)');
    const from = parseNameAddr(req.get('From'));
    if (entry.identity === 'normal' && conf.roster.all.some((e) => e.legId !== entry.legId && e.identity !== 'generated' && e.uri === from.uri)) {
      return refuse(486, `${from.uri.slice(0, 80)} is in the room already`);
    }
    this.replacing = true;
    this.replace(conf, entry, h, from, req, res, log)
      .catch((err: unknown) => {
        log.error({ err }, 'replacing a conference member failed');
        if (!res.finalResponseSent) res.send(500);
      })
      .finally(() => (this.replacing = false));
  }

  private async replace(conf: Conference, entry: RosterEntry, h: PlaceHolder, from: { uri: string; displayName: string }, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger): Promise<void> {
    const call = this.call;
    const legId = this.legs === 1 ? REPLACING_LEG : `caller-${this.legs + 1}`;
    const created = await legForReplacingInvite(call.room, legId, req, res);
    if (!created) return;
    const { leg, answer } = created;
    if (call.ended || !h.connected()) {
      leg.close();
      res.send(481);
      return;
    }
    // The holder's BYE (Parley's below, or its own) no longer ends the call; its own BYE
    // meanwhile still does when the new party then does not come.
    let holderGone = false;
    h.handOver(() => void (holderGone = true));
    let next: PlaceHolder;
    try {
      next = await this.answer(leg, legId, req, res, answer, log);
    } catch (err) {
      h.handOver(null);
      leg.close();
      log.info({ err }, 'the replacing INVITE was not answered (CANCEL, or the SIP server failed)');
      if (holderGone) call.end('the member hung up while it was being replaced, and the replacing INVITE failed');
      return;
    }
    if (call.ended) {
      next.release(log);
      return;
    }
    this.legs++;
    leg.on('dtmf', (e) => call.safeEmit('dtmf', e.digit, e.durationMs));
    leg.watchMedia();
    leg.on('mediatimeout', (s) => {
      if (this.holder === next) call.endForCause(MEDIA_TIMEOUT_REASON, `media timeout: no RTP from the party that replaced the member for ${s} s`);
    });
    // The holder leaves: its hold ends (the room hears the new party, whatever the holder did
    // before it transferred), its BYE, its leg and stem; the new party's stem starts.
    const recorder = call.activeRecording?.recorder;
    call.activeRecording?.transfer({ event: 'replaced', leg: h.legId, target: from.uri, newLeg: legId });
    h.release(log);
    if (recorder && !recorder.isClosed) {
      recorder.removeLeg(h.legId);
      recorder.addLeg(legId, { uri: from.uri, displayName: from.displayName || null, identity: 'normal', callId: next.callId, originalTo: call.originalTo.uri, role: 'caller', stereo: 'left' });
    }
    this.holder = next;
    this.taken(next.callId);
    if (entry.identity === 'normal') {
      conf.roster.leave(entry.legId, 'replaced');
      try {
        conf.roster.join({ legId: entry.legId, callId: call.callId, uri: from.uri, displayName: from.displayName, identity: 'normal' });
      } catch (err) {
        // Its URI joined meanwhile (checked before the answer): the party is heard, unlisted.
        log.warn({ err, uri: from.uri }, 'the party that replaced a member could not take its roster entry');
      }
    }
    log.info({ leg: legId, uri: from.uri }, 'INVITE with Replaces: connected in place of the conference member it named');
  }

  /** Answers the replacing INVITE on `leg`: the new holder (its dialog's BYE, INFO, REFER and re-offers handled as the member's). */
  private async answer(leg: MediaLeg, legId: string, req: Srf.SrfRequest, res: Srf.SrfResponse, answer: string, log: Logger): Promise<PlaceHolder> {
    const call = this.call;
    let dialog: Srf.Dialog | null = null;
    let ended = false;
    let released = false;
    let handedOver: (() => void) | null = null;
    const d = await createUas(call.deps.srf, req, res, { localSdp: answer }, (d) => {
      d.on('destroy', (bye?: Srf.SrfRequest) => {
        ended = true;
        if (released) return;
        if (handedOver) return handedOver();
        const reason = serverByeReason(bye);
        if (reason) call.endForCause(reason, `the dialog of the party that replaced the member was ended by the SIP server (${reason})`);
        else call.end('the party that replaced the member hung up');
      });
      d.on('info', (r: Srf.SrfRequest, s: Srf.SrfResponse) => answerLegInfo(leg, r, s, log, { leg: legId }, 'a DTMF INFO from the party that replaced the member'));
      d.on('refer', (r: Srf.SrfRequest, s: Srf.SrfResponse) => refuseRefer(r, s, log));
      answerReoffers(d, leg, log, {
        ackWaitMs: ackWaitMs(call.deps.settings.sipT1 ?? 500),
        onEnd: (reason, why) => call.endForCause(reason, why),
        onPeerOffer: () => {
          if (!call.ended && !released) call.holds.note(legId, peerHold(leg.media));
        },
      });
    });
    dialog = d;
    call.once('ended', () => {
      if (!ended && !released) destroyDialog(d, log, call.reasonHeader ? { Reason: call.reasonHeader } : undefined);
    });
    return {
      legId,
      callId: d.sip.callId,
      dialog: () => (ended || released ? null : dialog),
      connected: () => !ended && !released && !leg.isClosed,
      handOver: (onGone) => void (handedOver = onGone),
      release: (l) => {
        if (released) return;
        released = true;
        leaveHold(call, legId);
        leg.close();
        if (!ended) destroyDialog(d, l);
      },
    };
  }
}

/** A leg that leaves a member's place is no longer on hold: said (the room unmutes the place, the recording ends the hold), then forgotten. */
function leaveHold(call: SipCall, legId: string): void {
  if (call.holds.of(legId)) call.holds.note(legId, null);
  call.holds.forget(legId);
}

/** Whether `legId` is a leg that holds a member's place in its call (the member's own, or a party's that replaced it). */
export function isPlaceLeg(legId: string): boolean {
  return legId === CALLER_LEG || /^caller-\d+$/.test(legId);
}

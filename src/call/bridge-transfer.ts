// A transfer asked for by either party of a bridge (REFER, RFC 3515; RFC 5589 §6), carried
// out by Parley as FreeSWITCH and Asterisk do for the legs they anchor: the call and its one
// recording go on, and the transfer's target takes the transferor's place (bridge-parties.ts).
// - 202, then NOTIFY `100 Trying` (refer-request.ts). The transferor is no longer heard;
//   the other party hears the bridge's `callerHears` (ringback) while the target rings.
// - The target is dialled like the bridge's callee (a callee's target with the caller's
//   identity and the step's headers; a caller's target with the callee's URI as From), the
//   step's ring timeout, with the REFER's `Referred-By` (RFC 3892); no early media.
//   An attended transfer's `Replaces` (RFC 3891) goes into that INVITE, so the target takes
//   it in place of its consultation call with the transferor (which it then ends); one that
//   names a call of this Parley (the consultation went through it too) goes to that call's
//   other party instead, to replace its dialog with Parley (consultation.ts).
// - Answered: it takes the transferor's place (its own leg and stem, `callee-2`, `caller-2`…,
//   leg.joined; it may transfer again), NOTIFY `200 OK` ends the subscription, and the
//   transferor, which should now hang up (RFC 5589), gets a BYE from Parley if it has not
//   within TRANSFEROR_BYE_MS. The recording's sidecar lists the transfer in `transfers`
//   (asked, then connected or failed) beside the legs' joins and leaves (the transferor's
//   stem ends, the target's starts).
// - Failed (busy, rejected, no answer, an answer Parley cannot use): NOTIFY with the
//   target's status; the transferor is heard again (it may take the call back from hold),
//   or, when it has hung up meanwhile, the call ends (BYE to the other party).
// - The call ending meanwhile cancels the target's INVITE (or BYEs it).
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { Logger } from '../util/logger.ts';
import type { CallDeps } from './call-deps.ts';
import { CallerWaitAudio, callerWaitSpec } from './caller-wait-audio.ts';
import { cancelInvite, destroyDialog, sipFailure, UNUSABLE_ANSWER_REASON } from './dialog-util.ts';
import { createUac, type HeldDialog } from './held-dialog.ts';
import { DialWait } from './dial-wait.ts';
import { dialFollowingRedirects } from './redirect-target.ts';
import { dialFollowingSrtp, offersSrtp, type OfferedLeg } from './bridge-srtp.ts';
import type { BridgeEndedBy, BridgeOptions } from './ports.ts';
import { acceptRefer, deferRefer, EARLY_DIALOG_WARNING, type ReferNotifier, referTarget, replacesId, transferMaxForwards, TRANSFEROR_BYE_MS } from './refer-request.ts';
import { consultationEnder } from './consultation.ts';
import type { SipCall } from './sip-call.ts';
import { targetFamily } from './target-family.ts';
import { RING_TIMEOUT } from './reasons.ts';

/** How long a transferor told of its transfer's success may take to hang up before Parley does. */

/** Which party of a bridge: the caller's side or the callee's. */
export type Side = 'caller' | 'callee';

/** A party of a bridge (a dialog and its leg): one connected, or a transferor on its way out. */
export interface Callee {
  uac: Srf.Dialog;
  leg: MediaLeg;
  id: string;
  /** Its dialog has ended. */
  gone: boolean;
}

/** What a transfer needs of its bridge (BridgeParties). */
export interface TransferHost {
  readonly call: SipCall;
  readonly deps: CallDeps;
  readonly log: Logger;
  readonly options: BridgeOptions;
  /** The INVITE's headers toward a target named by `side`. */
  headers(side: Side): Record<string, string>;
  nextLegId(side: Side): string;
  /** Who hears the wait audio while `side`'s target rings. */
  listenerOf(side: Side): MediaLeg;
  /** The answered target takes the transferor's place (listeners, stem, leg.joined). */
  replaced(from: Callee, to: Callee, target: string, side: Side): void;
  /** A transferor Parley sent a BYE to. */
  leftAfterTransfer(c: Callee): void;
  /** The call is over. */
  end(by: BridgeEndedBy): void;
}

export class BridgeTransfer {
  readonly done: Promise<void>;
  private outgoing: Srf.SrfRequest | null = null;
  private abandoned = false;
  private timedOut = false;
  private readonly wait: CallerWaitAudio;
  /** Settles the wait for the target's INVITE (abandoned, or its ring timeout over): it may have had no provisional yet, so no CANCEL (RFC 3261 §9.1). */
  private readonly dialWait = new DialWait();

  private constructor(
    private readonly host: TransferHost,
    readonly from: Callee,
    private readonly side: Side,
    private target: string,
    /** An attended transfer's Replaces (the transferor's dialog with the target), for the INVITE. */
    private replaces: string | undefined,
    private readonly referredBy: string | undefined,
    private readonly notifier: ReferNotifier,
    /** Ends the consultation call (here or, set by run(), on another node) whose party the target is, if that party keeps it. */
    private endConsultation: (() => void) | null,
    /** A Replaces no call here has: in a cluster, another node may hold its consultation call. */
    private readonly askOtherNodes: boolean,
    /** The target's INVITE's (transferMaxForwards). */
    private readonly maxForwards: number,
  ) {
    const call = host.call;
    this.wait = new CallerWaitAudio(call.room, host.listenerOf(side), callerWaitSpec(host.options.callerHears, undefined), host.deps, host.log);
    this.done = this.run().catch((err: unknown) => {
      host.log.error({ err, target }, 'transfer failed');
      this.failed(500, 'Server Internal Error');
    });
  }

  /** Answers the REFER: 202 and the transfer started, or why it is refused (nothing sent yet). */
  static async accept(host: TransferHost, from: Callee, side: Side, req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<BridgeTransfer | { status: number; why: string }> {
    const t = referTarget(req.get('Refer-To'));
    if ('status' in t) return t;
    const maxForwards = transferMaxForwards(req, Number(host.headers(side)['Max-Forwards'] ?? 70));
    if (maxForwards === null) return { status: 483, why: 'the REFER has no Max-Forwards left (Too Many Hops)' };
    // The consultation call went through this Parley too: the target is that call's other party,
    // asked to replace its dialog with Parley (consultation.ts).
    const own = t.replaces === undefined ? null : ((await host.deps.consultation?.(replacesId(t.replaces), host.call)) ?? null);
    if (own !== null && 'refused' in own) return { status: 403, why: own.refused };
    // The lookup may have waited for a bridge to connect: the transferor may have left meanwhile.
    if (from.gone || host.call.ended) return { status: 481, why: 'the call is ending' };
    const notifier = acceptRefer(from.uac, req, res, host.log);
    const target = own?.uri ?? t.uri;
    host.log.info({ leg: from.id, side, target, ...(own ? { consultation: own.call.callId, referTo: t.uri } : {}) }, 'transfer asked: dialling its target');
    host.call.activeRecording?.transfer({ event: 'asked', leg: from.id, target, ...(own ? { consultation: own.call.callId } : {}) });
    const endOwn = own && consultationEnder(own, host.log);
    return new BridgeTransfer(host, from, side, target, own?.replaces ?? t.replaces, req.get('Referred-By'), notifier, endOwn, own === null && t.replaces !== undefined, maxForwards);
  }

  /**
   * The call ended (the other party left): the target's INVITE is cancelled (or its dialog ended
   * once it answers), and the transferor is told now, before its BYE (after which its dialog
   * takes no NOTIFY): its subscription ends with 487 instead of staying active.
   */
  abandon(): void {
    this.abandoned = true;
    this.notifier.final(487, 'Request Terminated');
    this.cancel();
    this.dialWait.giveUp();
  }

  private async run(): Promise<void> {
    const { call, deps, options, log } = this.host;
    // The transferor is no longer heard; the caller hears the bridge's wait audio.
    this.from.leg.mute(true);
    this.wait.start();
    const remote = this.askOtherNodes ? await deps.remoteConsultation?.(replacesId(this.replaces!)) : null;
    if (remote && 'refused' in remote) {
      log.info({ target: this.target, why: remote.refused }, 'transfer refused by the node holding its consultation call');
      return this.failed(403, 'Forbidden');
    }
    if (remote) {
      this.target = remote.uri;
      this.replaces = remote.replaces;
      this.endConsultation = remote.end;
    }
    if (this.abandoned) return this.failed(487, 'Request Terminated');
    const proxy = deps.settings.outboundProxy ?? undefined;
    const family = (await targetFamily(this.target, proxy !== undefined)) ?? 4;
    if (this.abandoned) return this.failed(487, 'Request Terminated');
    const id = this.host.nextLegId(this.side);
    const make = async (srtp: boolean): Promise<{ leg: MediaLeg; offer: string }> => {
      const made = await call.room.createOutgoingLeg({ id, family, srtp });
      made.leg.mute(true);
      return made;
    };
    // SDES-SRTP under the bridge's `srtp`, following the party the target is connected to.
    const srtp = offersSrtp(options.srtp, this.host.listenerOf(this.side));
    const offered: OfferedLeg = { ...(await make(srtp)), srtp };
    if (this.abandoned) {
      offered.leg.close();
      return this.failed(487, 'Request Terminated');
    }
    const ring = setTimeout(() => {
      this.timedOut = true;
      this.cancel();
      this.dialWait.giveUp();
    }, options.ringTimeout * 1000);
    const headers: Record<string, string> = {
      ...this.host.headers(this.side),
      'Max-Forwards': String(this.maxForwards),
      ...(this.referredBy ? { 'Referred-By': this.referredBy } : {}),
      ...(this.replaces ? { Replaces: this.replaces } : {}),
    };
    // A target on Parley itself (an agent sends the caller to a menu of this Parley: the address the
    // call's INVITE arrived on, another of its listeners' addresses, sip.externalIp, or a name that
    // resolves to one of them) goes without the loop marker, so that Parley's rules take it as a
    // new call: marked, Parley would proxy it on to its Request-URI, itself again, and answer it
    // 482. Only where the SIP server can hold both ends (CallSettings.pointsAtParley).
    if ((await deps.settings.pointsAtParley?.(this.target)) === true) {
      delete headers[deps.settings.loopMarker.header];
      log.info({ target: this.target }, 'transfer target is Parley itself: placed without the loop marker, for its rules to take');
    }
    let unregisterEarly = noop;
    const dialTo = (to: string, offer: string): Promise<HeldDialog> =>
      createUac(
        deps.srf,
        to,
        { localSdp: offer, headers, proxy },
        {
          // drachtio-srf calls it as (err, req), whatever its typings say.
          cbRequest: ((_err: unknown, req?: Srf.SrfRequest) => {
            if (!req) return;
            this.outgoing = req;
            // A REFER in the target's early dialog: it may transfer once connected (491 until then).
            unregisterEarly();
            unregisterEarly =
              deps.earlyLegs?.add(req.get('Call-ID') ?? '', (r, s) => {
                if (r.method !== 'REFER') return false;
                deferRefer(r, s, EARLY_DIALOG_WARNING, log);
                return true;
              }) ?? noop;
            if (this.abandoned || this.timedOut) this.cancel();
          }) as unknown as (req: Srf.SrfRequest) => void,
        },
        log,
        deps.settings.loopMarker,
      );
    // A blind transfer's target that forwards (3xx) is followed, as the bridge's callee is; one
    // with Replaces is not (the dialog it names is at that target alone).
    const dial = (_leg: MediaLeg, offer: string): Promise<HeldDialog> =>
      this.replaces ? dialTo(this.target, offer) : dialFollowingRedirects(this.target, (to) => dialTo(to, offer), () => this.abandoned || this.timedOut || call.ended, log);
    let held: HeldDialog;
    try {
      // Abandoned or timed out, the transfer does not wait for the target's INVITE: it ends on its own.
      const dialing = dialFollowingSrtp(options.srtp, offered, make, dial, () => this.abandoned || this.timedOut || call.ended, log);
      // A plain leg made for an SRTP offer's retry meanwhile (bridge-srtp.ts) is closed when the INVITE ends.
      const first = await this.dialWait.answer(dialing, log, { target: this.target }, () => offered.leg.close());
      if (first === null) {
        log.info({ target: this.target, timedOut: this.timedOut }, 'transfer target given up before its final response: its INVITE is cancelled on its own');
        throw new TargetGivenUpError();
      }
      held = first;
    } catch (err) {
      offered.leg.close();
      const sip = err instanceof TargetGivenUpError ? { status: 487, reason: 'Request Terminated' } : sipFailure(err);
      const { status, reason } = this.timedOut ? RING_TIMEOUT : (sip ?? { status: 500, reason: 'Server Internal Error' });
      log.info({ target: this.target, status, reason, err: sip || this.timedOut ? undefined : err }, 'transfer target failed');
      return this.failed(status, reason);
    } finally {
      clearTimeout(ring);
      unregisterEarly();
    }
    const leg = offered.leg;
    const uac = held.dialog;
    const giveUp = (status: number, reason: string, headers?: Record<string, string>): void => {
      destroyDialog(uac, log, headers);
      leg.close();
      this.failed(status, reason);
    };
    try {
      if (this.abandoned || call.ended) return giveUp(487, 'Request Terminated');
      try {
        await leg.applyAnswer(held.answer);
      } catch (err) {
        log.warn({ target: this.target, err }, 'the transfer target\'s answer cannot be used; hanging it up');
        return giveUp(488, 'Not Acceptable Here', { Reason: UNUSABLE_ANSWER_REASON });
      }
      if (this.abandoned || call.ended) return giveUp(487, 'Request Terminated');
      const to: Callee = { uac, leg, id, gone: false };
      this.host.replaced(this.from, to, this.target, this.side);
      this.wait.close();
      leg.mute(false);
      log.info({ leg: id, target: this.target, transferor: this.from.id }, 'transfer done: the target is connected');
      call.activeRecording?.transfer({ event: 'connected', leg: this.from.id, target: this.target, newLeg: id });
      this.notifier.final(200, 'OK');
      // The target hangs its replaced dialog up (RFC 3891 §3); one that keeps it has the consultation call ended.
      if (this.endConsultation) setTimeout(this.endConsultation, TRANSFEROR_BYE_MS).unref();
      if (!this.from.gone) {
        const t = setTimeout(() => {
          if (this.from.gone) return;
          log.info({ leg: this.from.id }, 'the transferor did not hang up after its transfer: BYE');
          destroyDialog(this.from.uac, log);
          this.host.leftAfterTransfer(this.from);
        }, TRANSFEROR_BYE_MS);
        t.unref();
        call.once('ended', () => clearTimeout(t));
      }
    } finally {
      held.release();
    }
  }

  /** The transfer did not happen: the transferor is back, or, gone meanwhile, the call ends. */
  private failed(status: number, reason: string): void {
    this.wait.close();
    this.notifier.final(status, reason);
    const { call, log } = this.host;
    if (this.abandoned || call.ended) return;
    if (this.from.gone) {
      log.info({ status }, 'the transfer failed and the transferor has left: the call ends');
      this.host.end(this.side);
      call.hangup();
      return;
    }
    this.from.leg.mute(false);
    call.activeRecording?.transfer({ event: 'failed', leg: this.from.id, target: this.target, status });
  }

  private cancel(): void {
    cancelInvite(this.outgoing, this.host.log);
  }

}

const noop = (): void => undefined;

/** The transfer's wait for its target given up: abandoned, or its ring timeout over. */
class TargetGivenUpError extends Error {
  constructor() {
    super('the transfer target was given up');
  }
}

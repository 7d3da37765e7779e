// The B leg of a back-to-back call: a UAC to the original To (or a given URI) with
// its media leg in the caller's room. The callee is heard once it answers (after a
// whisper to it alone, if any); either side hanging up ends the other. A busy,
// rejecting or silent callee is a 'failed' outcome carrying its status. Until
// the two are connected the caller hears ringback (or `callerHears`), or the
// callee's own early media when it sends some. Once connected, the call's parties and
// their transfers are BridgeParties' (bridge-parties.ts).
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { Logger } from '../util/logger.ts';
import type { CallDeps } from './call-deps.ts';
import { applyLaterAnswer, cancelInvite, destroyDialog, refuseRefer, sipFailure, sameSession, UNUSABLE_ANSWER_REASON } from './dialog-util.ts';
import { dialFollowingRedirects } from './redirect-target.ts';
import { BridgeParties, NOT_CONNECTED_WARNING } from './bridge-parties.ts';
import { createUac, type HeldDialog } from './held-dialog.ts';
import { DialWait } from './dial-wait.ts';
import { formatNameAddr } from './name-addr.ts';
import { CallerWaitAudio, callerWaitSpec } from './caller-wait-audio.ts';
import { describeSpec, toLibrarySpec } from './play-spec.ts';
import { promptRate } from './prompt-rate.ts';
import { dialFollowingSrtp, offersSrtp, type OfferedLeg } from './bridge-srtp.ts';
import type { BridgeOptions, BridgeOutcome } from './ports.ts';
import { answerLegInfo } from './dtmf-info.ts';
import type { Recorder } from '../recording/recorder.ts';
import type { SipCall } from './sip-call.ts';
import type { ConsultationPeer } from './consultation.ts';
import { deferRefer, maxForwardsOf, type ReplacesId } from './refer-request.ts';
import { takeReplacingInvite } from './replacing-invite.ts';
import { targetFamily } from './target-family.ts';
import { MediaCapacityError } from '../media-plane/media-errors.ts';
import { RING_TIMEOUT } from './reasons.ts';
import { inTrustDomain, wantsIdPrivacy } from '../policy/identity-privacy.ts';

export const CALLEE_LEG = 'callee';

export class B2bBridge {
  private outgoing: Srf.SrfRequest | null = null;
  private timerRing: NodeJS.Timeout | null = null;
  private ringTimedOut = false;
  private callerLeft = false;
  private early: Promise<void> | null = null;
  /** The SDP of the 183 whose early media the leg took (null: none). */
  private earlyAnswer: string | null = null;
  private wait: CallerWaitAudio | null = null;
  /** A 180 went to the caller (ringCaller). */
  private rang = false;
  /** The parties once connected (null before). */
  private parties: BridgeParties | null = null;
  private connectingNow: Promise<void> | null = null;
  /** Whose REFERs the bridge carries out (BridgeOptions.transfers), from run() on. */
  private transfers: BridgeOptions['transfers'] = 'callee';

  constructor(
    private readonly call: SipCall,
    private readonly deps: CallDeps,
    private readonly log: Logger,
  ) {}

  /** A recording started after the callee answered: the parties connected now join it. */
  joinRecording(recorder: Recorder): void {
    this.parties?.joinRecording(recorder);
  }

  /** The callee answered and the parties are being set (consultation.ts waits for it); null: not now. */
  get connecting(): Promise<void> | null {
    return this.parties ? null : this.connectingNow;
  }

  /** An attended transfer elsewhere names one of this bridge's dialogs (consultation.ts). */
  consultationPeer(id: ReplacesId): ConsultationPeer {
    return this.parties?.consultationPeer(id) ?? null;
  }

  /** An INVITE with Replaces naming one of this bridge's dialogs (replacing-invite.ts): true when answered. */
  takeReplacing(id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse): boolean {
    return this.parties !== null && takeReplacingInvite(this.parties, id, req, res);
  }

  /**
   * A REFER from the caller: true when the bridge answers it. Connected, under `transfers: both`,
   * BridgeParties takes it. Before the callee is connected there is no established call to hand
   * on yet: 491 (try again later, as BridgeParties answers one during a whisper) with a Warning
   * saying so. It fell through to the 403 "not supported here", untrue of `transfers: both`.
   */
  takeCallerRefer(req: Srf.SrfRequest, res: Srf.SrfResponse): boolean {
    if (this.parties) return this.parties.takeCallerRefer(req, res);
    if (this.transfers !== 'both') return false;
    deferRefer(req, res, NOT_CONNECTED_WARNING, this.log);
    return true;
  }

  async run(options: BridgeOptions): Promise<BridgeOutcome> {
    this.transfers = options.transfers;
    const call = this.call;
    const target = options.to ?? call.originalTo.uri;
    // Every B leg gets one line with its target and outcome (answered, failed with a status, abandoned).
    const proxy = this.deps.settings.outboundProxy ?? undefined;
    const placedAt = performance.now();
    const ms = (): number => Math.round(performance.now() - placedAt);
    if (call.ended) return { kind: 'failed', status: 487, reason: 'Request Terminated' };
    // RFC 7332 §3: the B leg carries the caller's Max-Forwards less one; none is left to send: 483 (RFC 3261 §16.3).
    if (maxForwardsOf(call.req) < 1) return { kind: 'failed', status: 483, reason: 'Too Many Hops' };
    // Media in the callee's family when its URI says it (an IPv6 literal, a name that resolves to IPv6), else IPv4.
    const family = (await targetFamily(target, proxy !== undefined)) ?? 4;
    const make = async (srtp: boolean): Promise<{ leg: MediaLeg; offer: string }> => {
      const made = await call.room.createOutgoingLeg({ id: CALLEE_LEG, family, srtp });
      // Until it answers (and any whisper is over), the callee is heard by no one.
      made.leg.mute(true);
      return made;
    };
    const srtp = offersSrtp(options.srtp, call.leg);
    let made: { leg: MediaLeg; offer: string };
    try {
      made = await make(srtp);
    } catch (err) {
      // No port for the callee's media: the bridge fails (503), so a fallback (voicemail) can still run.
      if (!(err instanceof MediaCapacityError)) throw err;
      this.log.warn({ target, why: err.message }, 'B leg not placed: no media port');
      return { kind: 'failed', status: 503, reason: 'Service Unavailable' };
    }
    const offered: OfferedLeg = { ...made, srtp };
    // The caller may have gone (CANCEL, BYE) while the leg was made: no callee is dialled then.
    if (call.ended) {
      offered.leg.close();
      return { kind: 'failed', status: 487, reason: 'Request Terminated' };
    }
    const wait = new CallerWaitAudio(call.room, call.leg, callerWaitSpec(options.callerHears, options.whisper), this.deps, this.log);
    this.wait = wait;
    // A caller that hears Parley already (answered, or early media) hears it now; else once answered.
    if (call.hearsMedia) wait.start();
    // The caller's hang-up (or the ring timeout) settles the wait at once (null): the B leg's INVITE may still be
    // waiting for its first response (no CANCEL before one, RFC 3261 §9.1), and nothing of the
    // call waits for it (DialWait).
    const dialWait = new DialWait();
    const onCallerEnded = (): void => {
      this.callerLeft = true;
      this.cancelOutgoing();
      dialWait.giveUp();
    };
    call.on('ended', onCallerEnded);
    let held: HeldDialog;
    let unregisterEarly = (): void => undefined;
    // Its requests are held until its listeners are on (HeldDialog): a BYE or re-INVITE right
    // behind the 200 would otherwise be answered by drachtio-srf and never reach the call.
    const dialTo = (to: string, leg: MediaLeg, offer: string): Promise<HeldDialog> =>
      createUac(
        this.deps.srf,
        to,
        { localSdp: offer, headers: this.headers(options, to), proxy },
        {
          // drachtio-srf calls it as (err, req), whatever its typings say.
          cbRequest: ((_err: unknown, req?: Srf.SrfRequest) => {
            if (!req) return;
            this.outgoing = req;
            // An INFO in the callee's early dialog (after its 180/183, before its 200) is taken as in
            // the dialog; a REFER there is refused as one before the callee is connected is.
            const early = this.deps.earlyLegs?.add(req.get('Call-ID') ?? '', (r, s) => {
              if (r.method === 'REFER') return this.calleeEarlyRefer(r, s, options);
              if (r.method !== 'INFO') return false;
              this.onCalleeInfo(leg, r, s);
              return true;
            });
            unregisterEarly();
            unregisterEarly = early ?? ((): void => undefined);
            if (this.callerLeft || this.ringTimedOut) this.cancelOutgoing();
          }) as unknown as (req: Srf.SrfRequest) => void,
          cbProvisional: (res) => this.onProvisional(res, leg, options),
        },
        this.log,
        this.deps.settings.loopMarker,
      );
    // A callee's 3xx (call forwarding on a PBX) is followed as its REFER would be, with the same
    // offer, headers and ring timeout (redirect-target.ts); not under `transfers: refuse`.
    const dial = (leg: MediaLeg, offer: string): Promise<HeldDialog> =>
      options.transfers === 'refuse'
        ? dialTo(target, leg, offer)
        : dialFollowingRedirects(target, (to) => dialTo(to, leg, offer), () => this.callerLeft || this.ringTimedOut || call.ended, this.log);
    try {
      this.timerRing = setTimeout(() => {
        this.ringTimedOut = true;
        this.cancelOutgoing();
        // Nor does the ring timeout wait for an INVITE that has not been answered at all.
        dialWait.giveUp();
      }, options.ringTimeout * 1000);
      const dialing = dialFollowingSrtp(options.srtp, offered, make, dial, () => this.callerLeft || this.ringTimedOut || call.ended, this.log);
      // A plain leg made for an SRTP offer's retry meanwhile (bridge-srtp.ts) is closed when the INVITE ends.
      const first = await dialWait.answer(dialing, this.log, { target }, () => offered.leg.close());
      if (first === null) {
        this.log.info({ target, ringTimedOut: this.ringTimedOut }, 'the B leg given up before its final response: the bridge ends now, the B leg is cancelled on its own');
        throw new GivenUpError();
      }
      held = first;
    } catch (err) {
      wait.close();
      offered.leg.close();
      call.off('ended', onCallerEnded);
      // A SIP failure carries the callee's status and phrase; anything else (a transport
      // error, a bug) is a bare 500 whose text stays in the log, never on the wire.
      const sip = err instanceof GivenUpError ? { status: 487, reason: 'Request Terminated' } : sipFailure(err);
      const { status, reason } = this.ringTimedOut ? RING_TIMEOUT : (sip ?? { status: 500, reason: '' });
      this.log.info({ target, proxy, status, reason, ms: ms(), err: sip || this.ringTimedOut ? undefined : err }, 'B leg failed');
      return { kind: 'failed', status, reason };
    } finally {
      unregisterEarly();
      if (this.timerRing) clearTimeout(this.timerRing);
      this.timerRing = null;
    }
    const leg = offered.leg;
    call.off('ended', onCallerEnded);
    const connecting = this.connect(held, leg, wait, options, target, proxy, ms);
    this.connectingNow = connecting.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await connecting;
    } finally {
      this.connectingNow = null;
      // Whatever came from the callee meanwhile goes to the listeners now on (487 when none: it was given up).
      held.release();
    }
  }

  private async connect(
    held: HeldDialog,
    leg: MediaLeg,
    wait: CallerWaitAudio,
    options: BridgeOptions,
    target: string,
    proxy: string | undefined,
    ms: () => number,
  ): Promise<BridgeOutcome> {
    const call = this.call;
    const uac = held.dialog;
    uac.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.onCalleeInfo(leg, req, res));
    if (call.ended) {
      this.log.info({ target, proxy, status: 487, ms: ms() }, 'B leg answered after the caller left: ended');
      wait.close();
      destroyDialog(uac, this.log);
      leg.close();
      return { kind: 'failed', status: 487, reason: 'Request Terminated' };
    }
    this.log.info({ target, proxy, status: 200, ms: ms() }, 'B leg answered');
    if (this.early) await this.early;
    // The callee's answer is taken before the caller is answered: a callee whose answer cannot
    // be used fails the bridge (488) while the caller's INVITE can still get that failure.
    try {
      // The 200's SDP: a re-INVITE held meanwhile has replaced uac.remote.sdp.
      const final = held.answer;
      if (!leg.media) await leg.applyAnswer(final);
      // RFC 3261 §13.2.1: the 2xx holds the answer. A 183's SDP from another branch of a forked
      // INVITE, or from a gateway's announcement server, is not it: the media follows the 2xx.
      else if (this.earlyAnswer !== null && final.trim() !== '' && !sameSession(this.earlyAnswer, final)) {
        this.log.info('the 200 answers with another SDP than the 183: the media follows the 200');
        await applyLaterAnswer(leg, final);
      }
    } catch (err) {
      // The callee answered with SDP Parley cannot use: it is hung up, not left in a call nobody hears.
      this.log.warn({ target, err }, 'the callee\'s answer cannot be used; hanging it up');
      wait.close();
      destroyDialog(uac, this.log, { Reason: UNUSABLE_ANSWER_REASON });
      leg.close();
      return { kind: 'failed', status: 488, reason: 'Not Acceptable Here' };
    }
    // A caller held in early media is answered now that the callee has.
    if (!call.answered && !call.ended) await call.answer();
    if (call.ended) {
      this.log.info({ target, proxy, ms: ms() }, 'the caller left as the callee answered: the callee is hung up');
      wait.close();
      destroyDialog(uac, this.log);
      leg.close();
      return { kind: 'failed', status: 487, reason: 'Request Terminated' };
    }
    const parties = new BridgeParties(call, this.deps, this.log, options, { uac, leg, id: CALLEE_LEG, gone: false }, target, (o) => this.headers(o));
    this.parties = parties;
    void this.connectAfterWhisper(leg, options, wait).then(() => parties.connect());
    return { kind: 'answered', legId: CALLEE_LEG, ended: parties.ended };
  }

  /**
   * An INFO from the callee: DTMF (`application/dtmf-relay`, `application/dtmf`) is the callee
   * leg's digit (its `dtmf` event once the callee is in the call), as its RFC 4733 events are;
   * it is not sent on to the caller. Anything else gets 200.
   */
  private onCalleeInfo(leg: MediaLeg, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    answerLegInfo(leg, req, res, this.log, {}, 'the callee');
  }


  /**
   * A REFER in the callee's early dialog (RFC 3261 §12.1: its 1xx had a To tag; RFC 3515 does
   * not restrict REFER to confirmed dialogs): the bridge would carry the callee's transfer out
   * once connected, so 491 (try again later, as a REFER during a whisper gets), with a Warning
   * saying why; under `transfers: refuse` 403, as in the dialog. drachtio-srf answered it 404.
   */
  private calleeEarlyRefer(req: Srf.SrfRequest, res: Srf.SrfResponse, options: BridgeOptions): true {
    if (options.transfers === 'refuse') refuseRefer(req, res, this.log);
    else deferRefer(req, res, NOT_CONNECTED_WARNING, this.log);
    return true;
  }

  private async connectAfterWhisper(leg: MediaLeg, options: BridgeOptions, wait: CallerWaitAudio): Promise<void> {
    const call = this.call;
    const ended = new Promise<void>((r) => call.once('ended', () => r()));
    if (options.whisper && !call.ended) {
      // The callee hears the whisper alone: neither party hears the other meanwhile
      // (a callee heard in early media is muted again); the caller hears its wait audio.
      call.leg.speakTo([]);
      leg.mute(true);
      wait.start();
      const player = this.deps.prompts.createPlayer(toLibrarySpec(options.whisper), {
        sampleRate: promptRate(call.room, this.deps.settings),
        log: this.log,
      });
      // The whisper is the callee's notice: the recording holds it (mix, callee's stem) and marks it.
      const rec = call.activeRecording;
      leg.play(rec ? rec.tapNotice(player, CALLEE_LEG, describeSpec(options.whisper)) : player);
      const r = await Promise.race([player.done, ended.then(() => null)]);
      if (r?.reason === 'error') this.log.warn({ err: r.error }, 'whisper failed; connecting anyway');
      // Connected: the wait audio stops in the same tick as the two start hearing each other.
      wait.close();
      if (!call.ended && !call.leg.isClosed) call.leg.speakTo(null);
    }
    wait.close();
    if (!leg.isClosed) leg.mute(false);
  }


  private cancelOutgoing(): void {
    this.log.debug({ haveRequest: !!this.outgoing }, 'cancelling the B leg');
    cancelInvite(this.outgoing, this.log);
  }

  /** Early media: a 183 with SDP lets the caller hear the callee's ringback. */
  private onProvisional(res: Srf.SrfResponse, leg: MediaLeg, options: BridgeOptions): void {
    if (res.status > 100) this.ringCaller();
    if (!options.earlyMedia || !res.body || leg.isClosed || this.early) return;
    this.earlyAnswer = res.body;
    this.early = leg
      .applyAnswer(res.body)
      .then(() => {
        // The callee's own ringback or announcement replaces ours.
        this.wait?.stop();
        leg.mute(false);
      })
      .catch((err: unknown) => this.log.warn({ err }, 'early media refused'));
  }

  /**
   * The callee rings (its 18x): a caller that hears nothing of Parley yet (neither answered
   * nor in early media, so no ringback of ours reaches it) gets a 180, once, and its phone
   * plays its own ringback (RFC 3261 §13.3.1.1).
   */
  private ringCaller(): void {
    const call = this.call;
    if (this.rang || call.hearsMedia || call.ended) return;
    const { res } = call.inviteState();
    if (res.finalResponseSent) return;
    this.rang = true;
    res.send(180);
    this.log.info('the callee rings: 180 to the caller');
  }

  /** `target`: where the INVITE goes (a transfer's target, not known here: undefined, outside the trust domain). */
  private headers(options: BridgeOptions, target?: string): Record<string, string> {
    const call = this.call;
    const { header, value } = this.deps.settings.loopMarker;
    const h: Record<string, string> = { [header]: value, From: formatNameAddr(call.from), 'Max-Forwards': String(maxForwardsOf(call.req) - 1) };
    const to = call.originalTo;
    // The identity an upstream proxy asserted for the caller (its From may be anonymous, RFC 3325 §9.1), else its From;
    // the caller's Privacy goes on with it, so a withheld number stays withheld past the callee (RFC 3323 §4.2).
    // Only an identity a trusted upstream asserted goes on (RFC 3325 §5: one from anywhere else is dropped).
    const privacy = call.req.get('Privacy');
    // RFC 3325 §7: with `Privacy: id`, no identity is asserted to a next hop (the outbound proxy, else the callee) outside the trust domain.
    const hop = this.deps.settings.outboundProxy ?? target;
    const withheld = wantsIdPrivacy(privacy) && !(hop !== undefined && inTrustDomain(hop, this.deps.settings.trustDomain ?? []));
    if (options.identity === 'p-asserted-identity' && !withheld) h['P-Asserted-Identity'] = (call.fromUpstream ? call.req.get('P-Asserted-Identity') : undefined) ?? formatNameAddr(call.from);
    if (privacy !== undefined) h['Privacy'] = privacy;
    if (options.identity === 'history-info') h['History-Info'] = `<${to.uri}>;index=1`;
    if (options.identity === 'diversion') h['Diversion'] = `<${to.uri}>;reason=unconditional`;
    for (const name of options.copyHeaders) {
      const v = call.req.get(name);
      if (v !== undefined) h[name] = v;
    }
    return h;
  }
}

/** The bridge's wait for the B leg given up: the caller hung up, or the ring timeout came, first. */
class GivenUpError extends Error {
  constructor() {
    super('the B leg was given up');
  }
}

// One incoming call as its flow sees it (a CallPort): the caller's SIP dialog and
// its media leg in the call's own room. Created by CallManager once the rule chain
// chose a flow; ends exactly once, whoever ends it, with one 'ended' event.
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { MediaRoom } from '../media-plane/media-room.ts';
import { MediaCapacityError, SdpNegotiationError } from '../media-plane/media-errors.ts';
import type { RecordingOrigin } from '../recording/compliance/retention-policy.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { B2bBridge } from './b2b-bridge.ts';
import { sendRefer } from './refer-request.ts';
import type { CallDeps } from './call-deps.ts';
import { DigitDemand } from './digit-demand.ts';
import { answerCallerInfo } from './dtmf-info.ts';
import { CallRecording } from './call-recording.ts';
import { CallerOffer, type AnswerSource } from './caller-offer.ts';
import { createUas, cseqNumber, destroyDialog, hangupInvite, inviteDeadReason, serverByeReason, warningHeader, type InviteState } from './dialog-util.ts';
import { answerCallerDialog, isRetired, retire } from './caller-dialog.ts';
import { parseNameAddr } from './name-addr.ts';
import { awaitPrack, requires100rel, sentToTag, supports100rel, type SentResponse } from './reliable-183.ts';
import { answerEarlyUpdate } from './early-dialog.ts';
import { MEDIA_THREAD_FAILED_REASON, MEDIA_TIMEOUT_REASON, RECORDING_FAILED_REASON } from './reasons.ts';
import { playOnCall } from './call-play.ts';
import { addressFamily } from './target-family.ts';
import { LegHolds, peerHold } from './hold.ts';
import { toLoopsBack } from './loops-back.ts';
import type { BridgeOptions, BridgeOutcome, BridgeTarget, CallEvents, CallPort, ConferenceJoinOptions, NameAddr, PlayHandle, PlaySpec, RecordingHandle, RecordingOptions } from './ports.ts';

export const CALLER_LEG = 'caller';

export interface SipCallOptions {
  /** An INVITE without SDP: make Parley's offer (`offer`) or refuse it with 488 (`reject`). */
  delayedOffer: 'offer' | 'reject';
}

export class SipCall extends TypedEmitter<CallEvents> implements CallPort {
  readonly callId: string;
  readonly originalTo: NameAddr;
  readonly from: NameAddr;
  /** The INVITE's Request-URI, or the rule chain's after a retarget (bridgeTo: request-uri dials it). */
  requestUri: string;
  /** Set by the call manager from the rule that took the call. */
  bridgeTarget: BridgeTarget = 'to';
  /** The INVITE came from one of security.upstreams: its P-Asserted-Identity is trusted (RFC 3325 §5). */
  fromUpstream = false;
  readonly toLoopsBack: boolean;
  /** Set by the call manager: the flow and rule, written into the call's recordings (search, retention). */
  recordingOrigin: RecordingOrigin | null = null;
  private uas: Srf.Dialog | null = null;
  private endedFlag = false;
  private recording: CallRecording | null = null;
  private bridgeInProgress: B2bBridge | null = null;
  /** Set by a bridge that took the caller's transfer: the caller's BYE then ends its part only. */
  private callerHandedOver: (() => void) | null = null;
  private earlySent = false;
  /** The To tag of our early 183 as the SIP server sent it: the early dialog's (null until known). */
  private earlyTag: string | null = null;
  private readonly tookEarlyTag = (msg: SentResponse | undefined): void => {
    this.earlyTag = sentToTag(msg);
  };
  /** createUAS is sending the 200 (neither early nor confirmed for a moment); a second answer() waits for it. */
  private answering: Promise<void> | null = null;
  private canceled = false;
  /** A reliable 183 with our answer is out and its PRACK is not in yet: the 200 waits for it (RFC 3262 §3). */
  private prackWait: Promise<void> | null = null;
  /** Delayed offer: Parley's offer and the wait for its answer. */
  private readonly offer: CallerOffer;
  readonly createdAt = Date.now();
  /** The Reason header value every BYE of this call carries, when it ended for a cause (RFC 3326). */
  private endReason: string | null = null;
  private endedWhy: string | null = null;
  private readonly digits: DigitDemand;
  /** The legs of this call on hold now (hold.ts): each change logged, marked in the recording, emitted ('hold'). */
  readonly holds = new LegHolds((legId, direction) => {
    this.log.info({ leg: legId, hold: direction ?? 'resumed' }, direction ? 'leg on hold' : 'leg off hold');
    const rec = this.recording?.recorder;
    if (rec && !rec.isClosed) rec.holdLeg(legId, direction);
    this.safeEmit('hold', legId, direction);
  });

  private constructor(
    readonly deps: CallDeps,
    readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
    readonly room: MediaRoom,
    readonly leg: MediaLeg,
    /** What goes in our 183/200: the answer to the caller's offer, or our offer (delayed offer); an early UPDATE's answer then. */
    private answerSdp: string,
    readonly log: Logger,
    delayedOffer: boolean,
  ) {
    super(log);
    this.offer = new CallerOffer(this, delayedOffer);
    this.callId = req.get('Call-ID') ?? room.id;
    this.originalTo = parseNameAddr(req.get('To'));
    this.from = parseNameAddr(req.get('From'));
    this.requestUri = req.uri;
    const receivedOn = (req as unknown as { receivedOn?: string }).receivedOn ?? null;
    this.toLoopsBack = toLoopsBack({ to: this.originalTo.uri, requestUri: req.uri, receivedOn, outboundProxy: deps.settings.outboundProxy });
    this.digits = new DigitDemand(leg, deps.settings.inbandDtmf === 'always');
    leg.on('dtmf', (e) => this.safeEmit('dtmf', e.digit, e.durationMs));
    leg.on('mediatimeout', (s) => this.endForCause(MEDIA_TIMEOUT_REASON, `media timeout: no RTP from the caller for ${s} s`));
    room.on('close', (reason) => {
      if (reason === 'media-thread-died') this.endForCause(MEDIA_THREAD_FAILED_REASON, 'the media thread running the call failed');
    });
    // An UPDATE in the early dialog of our reliable 183: drachtio-srf emits it on the INVITE (its typings leave it out).
    (req as unknown as NodeJS.EventEmitter).on('update', (u: Srf.SrfRequest, r: Srf.SrfResponse) => answerEarlyUpdate(this, u, r, this.offer.pending));
    req.on('cancel', () => {
      this.canceled = true;
      this.end('caller canceled');
    });
  }

  /**
   * Creates the call's room and the caller's media leg from the INVITE's offer, or, for
   * an INVITE without SDP (delayed offer), Parley's own offer for the 183 or 200. Every
   * failure answers the INVITE (488 for an offer that cannot be used, 500 otherwise,
   * never with internal error text) and rejects.
   */
  static async create(deps: CallDeps, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger, options: SipCallOptions = { delayedOffer: 'offer' }): Promise<SipCall> {
    const callId = req.get('Call-ID') ?? 'unknown';
    const delayed = !req.body?.trim();
    let room: MediaRoom | null = null;
    try {
      if (delayed && options.delayedOffer === 'reject') {
        throw new SdpNegotiationError('an INVITE without SDP (delayed offer) is not accepted here', 399);
      }
      room = await deps.media.createRoom(`call-${callId}`);
      if (delayed) {
        // Our offer goes to the caller: in the family it reached us over.
        const { leg, offer } = await room.createOutgoingLeg({ id: CALLER_LEG, family: addressFamily(req.source_address) ?? 4 });
        log.info('delayed offer: Parley makes the offer');
        return new SipCall(deps, req, res, room, leg, offer, log, true);
      }
      const { leg, answer } = await room.createLeg(req.body ?? '', { id: CALLER_LEG });
      return new SipCall(deps, req, res, room, leg, answer, log, false);
    } catch (err) {
      room?.close();
      if (!res.finalResponseSent) {
        if (err instanceof SdpNegotiationError) res.send(488, { headers: { Warning: warningHeader(err) } });
        else if (err instanceof MediaCapacityError) res.send(503, { headers: { 'Retry-After': '5' } });
        else res.send(500);
      }
      throw err;
    }
  }

  get answered(): boolean {
    return this.uas !== null;
  }

  /** The caller hears what Parley plays: answered, or in early media (a 183 with SDP went out). */
  get hearsMedia(): boolean {
    return this.uas !== null || this.earlySent;
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  /** The recording in progress, for the bridge to add the callee to it. */
  get activeRecording(): CallRecording | null {
    return this.recording;
  }

  /** Who carries out the caller's REFER outside a bridge (a conference member's transfer); null: refused. */
  referTaker: ((req: Srf.SrfRequest, res: Srf.SrfResponse) => void) | null = null;

  get dialog(): Srf.Dialog | null {
    return this.uas;
  }

  async answer(options: { early?: boolean } = {}): Promise<void> {
    if (this.answering) return this.answering;
    if (this.uas || this.endedFlag) return;
    if (options.early) {
      if (this.earlySent) return;
      if (this.offer.pending && !supports100rel(this.req)) {
        // RFC 3261 §13.2.1: our offer must go in a reliable response; without 100rel the first one is the 200.
        this.log.info('delayed offer and no 100rel: the offer goes in the 200');
        return this.answer();
      }
      this.earlySent = true;
      if (this.offer.pending) return this.offer.inReliable183(this.res, this.answerSdp, this.tookEarlyTag);
      if (requires100rel(this.req)) return this.answerInReliable183();
      (this.res.send as unknown as (status: number, opts: { body: string }, sent: (err: unknown, msg?: SentResponse) => void) => void).call(
        this.res,
        183,
        { body: this.answerSdp },
        (err, msg) => {
          if (err) this.log.warn({ err }, '183 not sent');
          else this.tookEarlyTag(msg);
        },
      );
      this.log.info('early media (183)');
      return;
    }
    // Not 'answering' while it waits: a PRACK that never comes ends the call (awaitPrack).
    if (this.prackWait) await this.prackWait;
    if (this.answering) return this.answering;
    if (this.uas || this.endedFlag) return;
    this.answering = this.confirm();
    try {
      await this.answering;
    } finally {
      this.answering = null;
    }
  }

  private async confirm(): Promise<void> {
    // The dialog's listeners go on the moment drachtio-srf makes it (createUas): a re-INVITE or
    // the ACK in the same read from the SIP server would otherwise find none (drachtio-srf then
    // answers a re-INVITE with the first answer itself).
    let answered: Promise<void> | null = null;
    const uas = await createUas(this.deps.srf, this.req, this.res, { localSdp: this.answerSdp }, (d) => {
      this.bindCallerDialog(d, this.offer.pending ? cseqNumber(this.req) : undefined);
      // RFC 3261 §13.2.1: an offer in the 200 is answered in the ACK.
      if (this.offer.pending) answered = this.offer.answerFrom(d as unknown as AnswerSource, 'ack', 'ACK');
    });
    if (this.endedFlag) {
      destroyDialog(uas, this.log);
      return;
    }
    this.uas = uas;
    this.log.info('answered');
    if (answered) await answered;
    if (!this.endedFlag) this.leg.watchMedia();
  }

  /** @internal The caller's dialog's listeners: its first, or one that replaced it (caller-replacing.ts). */
  bindCallerDialog(d: Srf.Dialog, offerInAckOf?: number): void {
    d.on('destroy', (bye?: Srf.SrfRequest) => {
      if (isRetired(d)) return; // replaced: its BYE ends nothing
      if (this.callerHandedOver) return this.callerHandedOver();
      // The SIP server ended the dialog itself (the caller never ACKed a 2xx, …): the callee hears why.
      const reason = serverByeReason(bye);
      if (reason) this.endReason ??= reason;
      this.end(reason ? `the caller's dialog was ended by the SIP server (${reason})` : 'caller hung up');
    });
    answerCallerDialog(this, d, offerInAckOf);
  }

  /** @internal caller-replacing.ts: `uas` is the caller's dialog from now on; the old one, returned, ends nothing. */
  swapCallerDialog(uas: Srf.Dialog): Srf.Dialog | null {
    const old = this.uas;
    if (old) retire(old);
    this.uas = uas;
    return old;
  }

  /**
   * A caller that sent `Require: 100rel` gets its early media in a reliable 183 (RFC 3262 §3:
   * then every provisional but a 100 MUST be reliable). Its answer holds when sent, so the
   * notice plays at once; the 200 waits for the PRACK (§3: no 2xx while a reliable
   * provisional with a session description is unacknowledged).
   */
  private answerInReliable183(): void {
    const w = awaitPrack(this.res, this.answerSdp, this.log, this.deps.settings.sipT1 ?? 500, this.tookEarlyTag, () => this.hangup(500, 'No PRACK'));
    const ended = (): void => w.settle();
    this.once('ended', ended);
    this.prackWait = w.acked.then(() => {
      this.off('ended', ended);
      this.prackWait = null;
    });
    this.log.info('early media (reliable 183: the caller requires 100rel)');
  }

  /** Why no SIP dialog keeps this call alive any more, or null (CallManager's guard asks). */
  deadReason(now: number, maxUnansweredMs: number): string | null {
    // A caller that transferred its call away has left it to the parties its bridge holds.
    return this.callerHandedOver ? null : inviteDeadReason(this.inviteState(), now, maxUnansweredMs);
  }

  wantDigits(): () => void {
    return this.digits.want();
  }

  hangup(status?: number, reason?: string): void {
    if (!this.endedFlag) this.end(hangupInvite(this.inviteState(), this.log, status, reason));
  }

  /** @internal invite-expiry.ts, the guard: where the INVITE stands. */
  inviteState(): InviteState {
    return { ended: this.endedFlag, answering: this.answering !== null, uas: this.uas, res: this.res, canceled: this.canceled, createdAt: this.createdAt };
  }

  play(spec: PlaySpec, options: { target: 'caller' | 'room'; bargeIn: boolean; notice?: boolean }): PlayHandle {
    return playOnCall(this, this.recording, spec, options);
  }

  /** Starts the call's recording, or returns the one running; after a stop a new one starts (a voice message). */
  async startRecording(options: RecordingOptions): Promise<RecordingHandle> {
    if (this.recording && !this.recording.recorder.isClosed) return this.recording;
    const recorder = CallRecording.newRecorder(this.deps, this.room, this.recordingOrigin, options);
    // The caller (unless it transferred its call away) and a bridge's parties; one held now is marked held from the start.
    if (!this.leg.isClosed) recorder.addLeg(CALLER_LEG, { uri: this.from.uri, displayName: this.from.displayName || null, identity: 'normal', callId: this.callId, originalTo: this.originalTo.uri, role: 'caller' });
    this.bridgeInProgress?.joinRecording(recorder);
    for (const [legId, direction] of this.holds) recorder.holdLeg(legId, direction);
    this.recording = CallRecording.attach(this.deps, this.room, recorder, () => this.endForCause(RECORDING_FAILED_REASON, 'recording could not be written'));
    this.log.info({ recording: recorder.id }, 'recording');
    return this.recording;
  }

  async bridge(options: BridgeOptions): Promise<BridgeOutcome> {
    if (this.bridgeInProgress) throw new Error('a bridge is already in progress');
    const bridge = new B2bBridge(this, this.deps, this.log);
    this.bridgeInProgress = bridge;
    const done = (): void => {
      if (this.bridgeInProgress === bridge) this.bridgeInProgress = null;
    };
    // Answered, it stays this call's bridge until it ends (the caller's REFER goes to it).
    const outcome = await bridge.run(options).catch((err: unknown) => {
      done();
      throw err;
    });
    if (outcome.kind === 'answered') void outcome.ended.finally(done);
    else done();
    return outcome;
  }

  /** @internal bridge-parties.ts: the caller transfers its call away; its BYE now calls `onGone` instead of ending the call (null: ends it again). */
  handOverCaller(onGone: (() => void) | null): void {
    this.callerHandedOver = onGone;
  }

  /** @internal consultation.ts, replacing-invite.ts: the bridge this call is in, while it is. */
  get currentBridge(): B2bBridge | null {
    return this.bridgeInProgress;
  }

  /** @internal The caller's dialog (null before the 200). */
  get callerDialog(): Srf.Dialog | null {
    return this.uas;
  }

  joinConference(options: ConferenceJoinOptions): Promise<{ left: Promise<string> }> {
    return this.deps.conferences.join(this, options);
  }

  async transfer(target: string): Promise<void> {
    if (!this.uas) throw new Error('transfer needs an answered call');
    await sendRefer(this.uas, target, this.originalTo.uri);
    this.log.info({ target }, 'transferred');
    this.hangup();
  }

  /** Ends the call: one 'ended', the room closed. Idempotent. */
  end(reason: string): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    this.endedWhy = reason;
    this.log.info({ reason }, 'call ended');
    this.safeEmit('ended', reason);
    // The recording (also one the API started) gets what the legs still buffered, then stops; the room closes after.
    if (this.recording) this.recording.endCall(() => this.room.close(), this.log);
    else this.room.close();
  }

  /** Why the call ended, as its 'ended' event said (null while it runs). */
  get endedBecause(): string | null {
    return this.endedWhy;
  }

  /** Why the call ended, as a Reason header value (null for an ordinary hang-up). */
  get reasonHeader(): string | null {
    return this.endReason;
  }

  /** Ends the call for a cause: every BYE (or the final response, `status`) carries `reasonHeader`. */
  endForCause(reasonHeader: string, why: string, status = 503): void {
    if (this.endedFlag) return;
    this.endReason = reasonHeader;
    if (this.uas) destroyDialog(this.uas, this.log, { Reason: reasonHeader });
    else if (!this.res.finalResponseSent) this.res.send(status, { headers: { Reason: reasonHeader } });
    this.end(why);
  }

  /** @internal early-dialog.ts: an UPDATE's offer was answered before the 200, which repeats that answer; a hold in it counts as in the dialog's. */
  earlyAnswerTaken(sdp: string): void {
    this.answerSdp = sdp;
    if (!this.ended) this.holds.note(CALLER_LEG, peerHold(this.leg.media));
  }

  /** @internal Early media out, no 200 yet: an INFO of the early dialog comes to onInfo() through early-dialog.ts. */
  get inEarlyDialog(): boolean {
    return this.uas === null && this.earlySent && !this.endedFlag;
  }

  /** @internal The early dialog's To tag (our 183's as sent; null until the SIP server said). */
  get earlyToTag(): string | null {
    return this.earlyTag;
  }

  /** A DTMF INFO from the caller, in its confirmed or (early-dialog.ts) early dialog. */
  onInfo(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    answerCallerInfo(this.leg, this.digits, req, res, this.log);
  }
}

// The parties of a connected bridge (B2bBridge, once its callee answered) and their
// transfers (bridge-transfer.ts). At any time the caller's side is the caller itself or,
// after the caller transferred its call away, the target it named (a stand-in, `caller-2`);
// the callee's side is the callee or whom it transferred to (`callee-2`, `callee-3`…).
// - Either side's BYE (or media timeout, or an ACK that never came) ends the call: the
//   other side gets a BYE, and so does a transferor still up.
// - A transferor's BYE only ends its part (its leg closes, its stem ends).
// - A REFER from the side now connected starts a transfer (one at a time, once connected:
//   491 otherwise); from anyone else, or with `transfers: refuse` (the caller's side: unless
//   `transfers: both`), 403.
// - Holds (hold.ts): each party's hold is noted on the call (sidecar, leg.held); with
//   calls.holdPropagation `reinvite` the side connected now is re-INVITEd to match the other
//   side's hold (a transfer's target, not holding, resumes the party it is connected to).
// - Digits (`dtmf: relay`, the default): once connected, each side's RFC 4733 packets go on
//   to the other side as they come; a transfer's target takes over from its transferor.
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { Logger } from '../util/logger.ts';
import type { CallDeps } from './call-deps.ts';
import { BridgeTransfer, type Callee, type Side, type TransferHost } from './bridge-transfer.ts';
import { ackWaitMs, answerReoffers, destroyDialog, refuseRefer, serverByeReason } from './dialog-util.ts';
import { HoldPropagator, peerHold, type HoldDirection, type OutgoingOffer } from './hold.ts';
import { answerLegInfo } from './dtmf-info.ts';
import { BridgeDigits } from './bridge-digits.ts';
import type { BridgeEndedBy, BridgeOptions } from './ports.ts';
import { MEDIA_TIMEOUT_REASON } from './reasons.ts';
import type { Recorder } from '../recording/recorder.ts';
import type { LegInfo } from '../recording/metadata.ts';
import type { SipCall } from './sip-call.ts';
import type { ConsultationPeer } from './consultation.ts';
import { maxForwardsOf, replacesValue, type ReplacesId } from './refer-request.ts';

export const CALLER_STAND_IN = 'caller';

/** Why a REFER is refused for now (491) before the bridge's parties are connected. */
export const NOT_CONNECTED_WARNING = '399 parley "the call is not connected yet: the callee is still ringing or hearing its whisper"';

export class BridgeParties implements TransferHost {
  /** The callee the caller's side is connected to: the first, or whom a transfer put in its place. */
  private callee: Callee;
  private calleeUri: string;
  /** Whom the caller transferred its call to (null: the caller is still the caller's side). */
  private standIn: Callee | null = null;
  /** Every dialog of the bridge still to be ended with the call (the caller's own aside). */
  private readonly parties = new Set<Callee>();
  /** What each connected party is in the recording (its leg details). */
  private readonly legInfo = new WeakMap<Callee, LegInfo>();
  private transfer: BridgeTransfer | null = null;
  /** A REFER is being looked at (its consultation call may be connecting): another gets 491. */
  private asking = false;
  /** The caller as a transferor (from its REFER on): its BYE marks it gone. */
  private callerParty: Callee | null = null;
  /** Past any whisper (connect()): a transfer may start. */
  private isConnected = false;
  private readonly digits: BridgeDigits;
  private over = false;
  private legs = { callee: 1, caller: 1 };
  /** calls.holdPropagation `reinvite`: re-INVITEs to the connected callee and to the caller's side. */
  private toCallee: HoldPropagator | null = null;
  private toCaller: HoldPropagator | null = null;
  /** Each party's own re-INVITE in progress (its answerReoffers answers a peer's offer meanwhile 491). */
  private readonly outgoing = new WeakMap<Callee, OutgoingOffer>();
  private readonly onHold = (legId: string, direction: HoldDirection | null): void => {
    if (legId === this.callerSideId) this.toCallee?.set(direction);
    else if (legId === this.callee.id) this.toCaller?.set(direction);
  };
  readonly ended: Promise<BridgeEndedBy>;
  private resolveEnded: (by: BridgeEndedBy) => void = () => undefined;

  constructor(
    readonly call: SipCall,
    readonly deps: CallDeps,
    readonly log: Logger,
    readonly options: BridgeOptions,
    first: Callee,
    target: string,
    private readonly headersFor: (options: BridgeOptions) => Record<string, string>,
  ) {
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    this.callee = first;
    this.digits = new BridgeDigits(options.dtmf, { callerLeg: call.leg, wantCallerDigits: () => call.wantDigits(), always: deps.settings.inbandDtmf === 'always' });
    this.calleeUri = target;
    // (The first callee's INFO listener is B2bBridge's, on since its answer.)
    this.adopt(first, target, 'callee');
    if (deps.settings.holdPropagation !== 'none') {
      this.toCallee = this.propagator(first, 'callee');
      const uas = call.callerDialog;
      if (uas) this.toCaller = new HoldPropagator(uas, call.leg, log.child({ holdTo: 'caller' }), this.propagation(false, call.holds.callerOutgoing));
      call.on('hold', this.onHold);
      // A caller that went on hold while the callee rang: the callee is told at once.
      this.toCallee.set(call.holds.of(this.callerSideId));
    }
    // A caller that left while the callee's answer was applied has had its 'ended' already.
    if (call.ended) this.onCallEnded();
    else call.once('ended', () => this.onCallEnded());
  }

  /** The leg id of the caller's side now: the caller's, or its stand-in's. */
  private get callerSideId(): string {
    return this.standIn?.id ?? this.call.leg.id;
  }

  private propagator(c: Callee, side: Side): HoldPropagator {
    return new HoldPropagator(c.uac, c.leg, this.log.child({ holdTo: c.id }), this.propagation(side === 'callee', this.outgoingOf(c)));
  }

  private propagation(ownsCallId: boolean, outgoing: OutgoingOffer): ConstructorParameters<typeof HoldPropagator>[3] {
    return { ownsCallId, outgoing, onEnd: (reason, why) => this.call.endForCause(reason, why) };
  }

  private outgoingOf(c: Callee): OutgoingOffer {
    let o = this.outgoing.get(c);
    if (!o) this.outgoing.set(c, (o = { pending: false }));
    return o;
  }

  /** The INVITE's headers for a transfer's target: the caller's identity toward a callee's target, the callee's toward the caller's. */
  headers(side: Side): Record<string, string> {
    if (side === 'callee') return this.headersFor(this.options);
    const { header, value } = this.deps.settings.loopMarker;
    return { [header]: value, From: `<${this.calleeUri}>`, 'Max-Forwards': String(maxForwardsOf(this.call.req) - 1) };
  }

  nextLegId(side: Side): string {
    return side === 'callee' ? `callee-${++this.legs.callee}` : `${CALLER_STAND_IN}-${++this.legs.caller}`;
  }

  /** The leg that hears the wait audio while `side`'s transfer rings: the other side's. */
  listenerOf(side: Side): MediaLeg {
    return side === 'callee' ? (this.standIn?.leg ?? this.call.leg) : this.callee.leg;
  }

  /** The parties hear each other now (any whisper is over): transfers may start, digits go between them (options.dtmf). */
  connect(): void {
    this.isConnected = true;
    this.relayDigits();
  }

  /** Digits go between the parties connected now (options.dtmf: bridge-digits.ts). */
  private relayDigits(): void {
    if (this.isConnected) this.digits.connect(this.standIn?.leg ?? this.call.leg, this.callee.leg);
  }

  /** A transfer's target answered: it takes the transferor's place. */
  replaced(from: Callee, to: Callee, target: string, side: Side): void {
    to.uac.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.onInfo(to.leg, req, res));
    if (side === 'callee') {
      this.callee = to;
      this.calleeUri = target;
    } else this.standIn = to;
    this.adopt(to, target, side);
    from.leg.mute(true);
    this.relayDigits();
    this.call.holds.forget(from.id);
    if (this.toCallee || this.toCaller) {
      // The target now takes re-INVITEs for its side; the other side matches the target (not holding: resumed).
      if (side === 'callee') {
        this.toCallee?.close();
        this.toCallee = this.propagator(to, 'callee');
        this.toCallee.set(this.call.holds.of(this.callerSideId));
        this.toCaller?.set(null);
      } else {
        this.toCaller?.close();
        this.toCaller = this.propagator(to, 'caller');
        this.toCaller.set(this.call.holds.of(this.callee.id));
        this.toCallee?.set(null);
      }
    }
  }

  /** A transferor Parley itself sent a BYE (it had not hung up after its transfer). */
  leftAfterTransfer(c: Callee): void {
    if (c.id === this.call.leg.id) this.callerGone();
    else this.partyGone(c);
  }

  /** The call is over: the bridge step ends. */
  end(by: BridgeEndedBy): void {
    if (this.over) return;
    this.over = true;
    this.digits.close();
    this.resolveEnded(by);
  }

  /** A recording started mid-call: the parties connected now join it with their details. */
  joinRecording(recorder: Recorder): void {
    for (const c of [this.callee, this.standIn]) {
      const info = c && !c.gone ? this.legInfo.get(c) : undefined;
      if (c && info) recorder.addLeg(c.id, info);
    }
  }

  /**
   * The connected party whose dialog `id` names (a Replaces, matched as its recipient, Parley,
   * matches it: to-tag Parley's) and its side; why it cannot be replaced; null: none of this bridge's.
   */
  partyNamed(id: ReplacesId): { party: Callee; side: Side } | { status: number; refused: string } | null {
    const sides = [this.callerSide(), this.callee];
    const i = sides.findIndex((p) => p?.uac.sip.callId === id.callId);
    if (i < 0) return null;
    const party = sides[i]!;
    if (party.uac.sip.localTag !== id.toTag || party.uac.sip.remoteTag !== id.fromTag) {
      return { status: 481, refused: 'its Replaces names a call of this Parley but not its dialog\'s tags' };
    }
    if (!this.isConnected || this.transfer || this.over || party.gone) return { status: 403, refused: 'that call is not connected (still ringing, ending, or transferring)' };
    return { party, side: i === 0 ? 'caller' : 'callee' };
  }

  /** The caller's side now: its stand-in, or the caller (null before its 200). */
  private callerSide(): Callee | null {
    const uas = this.call.callerDialog;
    return this.standIn ?? this.callerParty ?? (uas && { uac: uas, leg: this.call.leg, id: this.call.leg.id, gone: this.call.ended });
  }

  /**
   * An attended transfer in another call names `id` (consultation.ts): when it is the dialog of
   * a party connected now, the other party's Contact and a Replaces naming its dialog with Parley.
   */
  consultationPeer(id: ReplacesId): ConsultationPeer {
    const named = this.partyNamed(id);
    if (named === null || 'refused' in named) return named && { refused: named.refused };
    const peer = named.side === 'caller' ? this.callee : this.callerSide();
    if (!peer || peer.gone) return { refused: 'that call is not connected (still ringing, ending, or transferring)' };
    const d = peer.uac.sip;
    return { uri: peer.uac.remote.uri, replaces: replacesValue({ callId: d.callId, toTag: d.remoteTag, fromTag: d.localTag }) };
  }

  /**
   * An INVITE with Replaces (RFC 3891) took `from`'s place on `side`: `to` is connected, `from`
   * gets a BYE. The caller replaced is handed over as a caller that transferred its call is.
   */
  replacedByInvite(from: Callee, to: Callee, target: string, side: Side): void {
    if (from.id === this.call.leg.id) this.call.handOverCaller(() => this.callerGone());
    this.replaced(from, to, target, side);
    destroyDialog(from.uac, this.log);
    this.leftAfterTransfer(from);
  }

  /** A REFER from the caller (SipCall hands it over): true when taken (answered here). */
  takeCallerRefer(req: Srf.SrfRequest, res: Srf.SrfResponse): boolean {
    const uas = this.call.callerDialog;
    if (this.options.transfers !== 'both' || !uas || this.standIn || this.over) return false;
    this.callerParty ??= { uac: uas, leg: this.call.leg, id: this.call.leg.id, gone: false };
    this.startTransfer(this.callerParty, 'caller', req, res);
    return true;
  }

  /** A REFER from a party the bridge placed (or a transfer's target). */
  private onRefer(c: Callee, side: Side, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const mine = side === 'callee' ? c === this.callee : c === this.standIn;
    if (!mine || c.gone || this.call.ended || this.over) {
      this.log.info({ leg: c.id, referTo: req.get('Refer-To') }, 'transfer refused: the leg is no longer in the call');
      res.send(403, { headers: { Warning: '399 parley "this leg is no longer in the call"' } });
      return;
    }
    this.startTransfer(c, side, req, res);
  }

  private startTransfer(c: Callee, side: Side, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    // RFC 3515 §2.4.2 lets the recipient refuse; 491: try again later (RFC 3261 §21.4.27), the Warning says why.
    if (!this.isConnected || this.transfer || this.asking) {
      res.send(491, { headers: { Warning: this.isConnected ? '399 parley "another transfer of this call is in progress"' : NOT_CONNECTED_WARNING } });
      return;
    }
    this.asking = true;
    void BridgeTransfer.accept(this, c, side, req, res)
      .catch((err: unknown): { status: number; why: string } => {
        this.log.error({ err }, 'transfer failed');
        return { status: 500, why: 'internal error' };
      })
      .then((t) => {
        this.asking = false;
        if ('status' in t) {
          this.log.info({ leg: c.id, referTo: req.get('Refer-To'), status: t.status, why: t.why }, 'transfer refused');
          res.send(t.status, { headers: { Warning: `399 parley "${t.why}"` } });
          return;
        }
        this.started(t, c, side);
      });
  }

  private started(t: BridgeTransfer, c: Callee, side: Side): void {
    this.transfer = t;
    // The caller's BYE from now on ends its part only (a phone may hang up right after the 202).
    if (side === 'caller') this.call.handOverCaller(() => this.callerGone());
    t.done
      .finally(() => {
        if (this.transfer === t) this.transfer = null;
        if (side === 'caller' && !c.gone && this.standIn === null) this.call.handOverCaller(null);
      })
      .catch(() => undefined);
  }

  /**
   * A party now connected (the first callee, or a transfer's target): its re-offers, REFERs,
   * BYE and media timeout, its stem in the recording, its leg.joined.
   */
  private adopt(c: Callee, target: string, side: Side): void {
    const call = this.call;
    this.parties.add(c);
    const connected = (): boolean => c === this.callee || c === this.standIn;
    answerReoffers(c.uac, c.leg, this.log, {
      ackWaitMs: ackWaitMs(this.deps.settings.sipT1 ?? 500),
      onEnd: (reason, why) => (connected() ? call.endForCause(reason, why) : destroyDialog(c.uac, this.log, { Reason: reason })),
      onPeerOffer: () => {
        if (!call.ended) call.holds.note(c.id, peerHold(c.leg.media));
      },
      outgoing: this.outgoingOf(c),
    });
    c.uac.on('refer', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      if (this.options.transfers === 'refuse') refuseRefer(req, res, this.log);
      else this.onRefer(c, side, req, res);
    });
    const info: LegInfo = {
      uri: target,
      identity: 'normal',
      callId: c.uac.sip.callId,
      originalTo: call.originalTo.uri,
      role: side === 'callee' ? 'other' : 'caller',
      // The caller's stand-in is heard where the caller was: the stereo file's left channel.
      ...(side === 'caller' ? { stereo: 'left' as const } : {}),
    };
    this.legInfo.set(c, info);
    call.activeRecording?.recorder.addLeg(c.id, info);
    call.safeEmit('legjoined', c.id, target);
    c.leg.watchMedia();
    c.leg.on('mediatimeout', (s) => {
      if (connected()) call.endForCause(MEDIA_TIMEOUT_REASON, `media timeout: no RTP from the ${side} for ${s} s`);
      else destroyDialog(c.uac, this.log, { Reason: MEDIA_TIMEOUT_REASON });
    });
    c.uac.on('destroy', (bye?: Srf.SrfRequest) => this.onGone(c, bye));
  }

  /** A party's dialog ended (its BYE, or the SIP server). Only one connected ends the call. */
  private onGone(c: Callee, bye?: Srf.SrfRequest): void {
    const connected = (c === this.callee || c === this.standIn) && this.transfer?.from !== c;
    this.partyGone(c);
    if (!connected || this.over) return;
    const call = this.call;
    this.end(c === this.callee ? 'callee' : 'caller');
    // The SIP server ended the dialog itself (the peer never ACKed a 2xx, …): the others hear why.
    const reason = serverByeReason(bye);
    if (reason) call.endForCause(reason, `${c.id}'s dialog was ended by the SIP server (${reason})`);
    else call.hangup();
  }

  private partyGone(c: Callee): void {
    if (c.gone) return;
    c.gone = true;
    c.leg.close();
    this.parties.delete(c);
    this.call.holds.forget(c.id);
    // A transferor (its transfer done or under way): its stem ends here.
    if ((c !== this.callee && c !== this.standIn) || this.transfer?.from === c) {
      this.call.activeRecording?.recorder.removeLeg(c.id);
      this.log.info({ leg: c.id }, 'the transferor left');
    }
  }

  /** The caller hung up after (or while) transferring its call away. */
  private callerGone(): void {
    if (this.callerParty) this.callerParty.gone = true;
    const leg = this.call.leg;
    leg.close();
    this.call.activeRecording?.recorder.removeLeg(leg.id);
    this.log.info('the caller left after transferring its call');
    // Its transfer failed meanwhile (or never got its target): nobody is on its side any more.
    if (!this.transfer && !this.standIn && !this.over) {
      this.end('caller');
      this.call.hangup();
    }
  }

  /** The call ended (its caller's BYE, Parley, or a party above): everyone still up gets a BYE. */
  private onCallEnded(): void {
    const call = this.call;
    const reason = call.reasonHeader;
    this.transfer?.abandon();
    call.off('hold', this.onHold);
    this.toCallee?.close();
    this.toCaller?.close();
    for (const c of [...this.parties]) {
      if (!c.gone) destroyDialog(c.uac, this.log, reason ? { Reason: reason } : undefined);
      c.gone = true;
      c.leg.close();
      call.holds.forget(c.id);
    }
    this.parties.clear();
    // The caller's side (its BYE, or the SIP server ending its dialog), else Parley (a stop, the API, a timeout).
    this.end(/^(caller |the caller's )/.test(call.endedBecause ?? '') ? 'caller' : 'parley');
  }

  /** DTMF INFO from a party: that leg's digit (as its RFC 4733 events are); anything else gets 200. */
  private onInfo(leg: MediaLeg, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    answerLegInfo(leg, req, res, this.log, {}, leg.id);
  }
}

// Requests arriving from the network (RFC 3261 §8.2, §12.2.2, §9.2): validation, ACK and
// CANCEL handling, dialog matching, and hand-off to the app that routed the method.
import { natFlow } from '../dialog/nat-flow.ts';
import { randomInt } from 'node:crypto';
import { callLogger } from '../../util/logger.ts';
import { Dialog } from '../dialog/dialog.ts';
import { SipError } from '../message/sip-error.ts';
import { SipMessage } from '../message/sip-message.ts';
import { InviteServerTransaction } from '../transaction/invite-server-transaction.ts';
import { timerC } from '../transaction/timer-values.ts';
import type { ServerTxnUser } from '../transaction/transaction-types.ts';
import { isStream, type Inbound } from '../transport/transport-types.ts';
import { nextId } from '../control/message-ids.ts';
import { notifyNetwork, notifyNewRequest } from './app-notifier.ts';
import { subscriptionEnds } from './app-request-handler.ts';
import { bodyRefusal } from './body-acceptance.ts';
import { cdrAttempt, cdrStop } from './cdr-emitter.ts';
import type { CoreContext, PendingUas } from './core-context.ts';
import type { DialogTerminator } from './dialog-terminator.ts';
import type { ErrorResponder } from './error-responder.ts';
import { cancelFor, makeResponse, responseDestination } from './message-factory.ts';
import { checkTargets } from './target-check.ts';
import { sendResponse } from './response-sender.ts';

/** Methods drachtio passes to apps out of dialog. */
const APP_METHODS = new Set(['INVITE', 'REGISTER', 'MESSAGE', 'OPTIONS', 'INFO', 'NOTIFY', 'SUBSCRIBE', 'PUBLISH']);
/**
 * The methods Parley takes (Allow, RFC 3261 §20.5: its 405s and OPTIONS answers, as the app's):
 * not REGISTER, SUBSCRIBE or PUBLISH, which it answers 405 (no registrar, no presence server).
 */
const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE';
/** Methods we recognise; any other is answered 501 (RFC 3261 §8.2.1, §21.5.2; RFC 4475 §3.1.1.2). */
const KNOWN_METHODS = new Set([...ALLOW.split(', '), 'SUBSCRIBE', 'PUBLISH', 'REGISTER']);
const PENDING_LIMIT_MS = 64000;
/** Extensions a request may Require of us. */
// siprec: RFC 7866 §6.1.1, Parley's app is a recording server (src/call/siprec-call.ts).
const SUPPORTED = new Set(['100rel', 'timer', 'replaces', 'norefersub', 'siprec']);

/** §8.2.2.2: what identifies a request for merged-request detection. */
function mergeKeyOf(req: SipMessage, fromTag: string): string {
  return `${req.callId}|${fromTag}|${req.cseq.seq}|${req.method}`;
}

export class NetworkRequestHandler {
  /** Out-of-dialog requests in progress by Call-ID, From tag and CSeq, for §8.2.2.2 merged-request detection. */
  private readonly inProgress = new Map<string, string>();
  /** Pending app requests by their server transaction, for CANCEL matching (weak: the proxy takes some over). */
  private byTxn = new WeakMap<object, PendingUas>();

  constructor(
    private readonly ctx: CoreContext,
    private readonly errors: ErrorResponder,
    private readonly terminator: DialogTerminator,
  ) {}

  handle(inbound: Inbound, req: SipMessage, raw: string): void {
    try {
      this.dispatch(inbound, req, raw);
    } catch (err) {
      this.errors.respond(inbound, req, err);
    }
  }

  private dispatch(inbound: Inbound, req: SipMessage, raw: string): void {
    // §8.2: mandatory headers; each getter throws a SipError(400) when missing or malformed.
    const cseq = req.cseq;
    const from = req.from;
    const to = req.to;
    void req.callId;
    // §8.2.1 inspects the method first: an unknown one is 501 even when its CSeq disagrees (RFC 4475 §3.1.2.18).
    if (!KNOWN_METHODS.has(req.method ?? '')) {
      this.errors.respond(inbound, req, new SipError(501, 'Not Implemented'), [['Allow', ALLOW]]);
      return;
    }
    // Methods are case-sensitive (§7.1): `invite` in the CSeq of an INVITE does not match.
    if (cseq.method !== req.method) throw new SipError(400, 'Bad Request', 'CSeq method does not match');
    checkTargets(req);
    const existing = this.ctx.txns.findServer(req);
    if (req.method === 'ACK') return this.onAck(inbound, req, raw, to.params.get('tag') ?? null);
    if (existing) {
      existing.receiveRetransmission();
      return;
    }
    const mf = req.get('Max-Forwards');
    if (mf !== undefined) {
      // 1*DIGIT, leading zeros allowed (RFC 4475 §3.1.1.1: 0068 is 68); above 255 it is no hop count.
      if (!/^\s*\d{1,10}\s*$/.test(mf) || Number(mf) > 255) throw new SipError(400, 'Bad Request', 'bad Max-Forwards');
      if (Number(mf) === 0) {
        // §16.3 item 3 and §11: an OPTIONS that may go no further is answered here, as a UAS.
        if (req.method === 'OPTIONS') return this.answerOptions(inbound, req);
        throw new SipError(483, 'Too Many Hops');
      }
    }
    if (req.method === 'CANCEL') return this.onCancel(inbound, req);
    if (this.unsupported(inbound, req)) return;
    if (req.method === 'INVITE' && this.unacceptableBody(inbound, req)) return;
    if ((req.method === 'INVITE' || req.method === 'UPDATE') && this.intervalTooSmall(inbound, req)) return;
    const toTag = to.params.get('tag');
    if (toTag) return this.inDialog(inbound, req, raw, toTag, from.params.get('tag') ?? '');
    return this.outOfDialog(inbound, req, raw, from.params.get('tag') ?? '');
  }

  /** A 200 with what we accept and allow (§11.2), for an OPTIONS that stops here. */
  private answerOptions(inbound: Inbound, req: SipMessage): void {
    const res = makeResponse(req, 200, 'OK', Dialog.newTag());
    res.add('Allow', ALLOW).add('Accept', 'application/sdp').add('Supported', [...SUPPORTED].join(', '));
    const txn = this.ctx.txns.createServer(req, this.sendFn(req, inbound), this.reliable(inbound), { onTerminated: () => undefined });
    txn.respond(res);
  }

  /** §8.2.3: an INVITE whose body or Accept we cannot take is refused (body-acceptance.ts). */
  private unacceptableBody(inbound: Inbound, req: SipMessage): boolean {
    const refusal = bodyRefusal(req);
    if (refusal) this.errors.respond(inbound, req, refusal.error, refusal.headers);
    return refusal !== null;
  }

  /** §8.2.2.3: a Require naming an extension we lack is refused with 420 and an Unsupported header. */
  private unsupported(inbound: Inbound, req: SipMessage): boolean {
    const required = req.getAll('Require').flatMap((v) => v.split(',')).map((t) => t.trim()).filter(Boolean);
    // Unsupported lists the tags as the request spelled them (RFC 4475 §3.3.5).
    const missing = required.filter((t) => !SUPPORTED.has(t.toLowerCase()));
    if (!missing.length) return false;
    this.errors.respond(inbound, req, new SipError(420, 'Bad Extension'), [['Unsupported', missing.join(', ')]]);
    return true;
  }

  /** RFC 4028 §8.1: a session interval below our Min-SE (sip.timers.minSE, 90 s) is refused with 422 and our Min-SE. */
  private intervalTooSmall(inbound: Inbound, req: SipMessage): boolean {
    const se = req.get('Session-Expires');
    if (se === undefined) return false;
    const secs = Number(/^\s*(\d+)/.exec(se)?.[1] ?? NaN);
    if (Number.isNaN(secs)) throw new SipError(400, 'Bad Request', 'bad Session-Expires');
    const minSE = this.ctx.timers.minSE ?? 90;
    if (secs >= minSE) return false;
    this.errors.respond(inbound, req, new SipError(422, 'Session Interval Too Small'), [['Min-SE', String(minSE)]]);
    return true;
  }

  private reliable(inbound: Inbound): boolean {
    return isStream(inbound.source.transport);
  }

  private sendFn(req: SipMessage, inbound: Inbound) {
    const target = responseDestination(req, inbound);
    // A 2xx to an INVITE that cannot be delivered over TCP or TLS (the caller's connection gone and
    // a new one refused or reset) ends its dialog (§17.2.4). Not over UDP: watching for ICMP there
    // costs a probe per 2xx (udp-reachability.ts), and timer H ends such a dialog anyway.
    const lost = req.method === 'INVITE' && target.dest.transport !== 'udp' ? (m: SipMessage) => (m.status >= 200 && m.status < 300 ? () => this.lost2xx(req, m) : undefined) : () => undefined;
    return (m: SipMessage) => sendResponse(this.ctx, req, target, m.toBuffer(), lost(m));
  }

  private lost2xx(req: SipMessage, res: SipMessage): void {
    const d = this.ctx.dialogs.match(req.callId, res.to.params.get('tag') ?? '', req.from.params.get('tag') ?? '');
    if (d && d.awaitingAckSeq === req.cseq.seq) this.ctx.dialogs.retransmitter(d)?.fail();
  }

  private onAck(inbound: Inbound, ack: SipMessage, raw: string, toTag: string | null): void {
    const txn = this.ctx.txns.findServer(ack);
    if (txn instanceof InviteServerTransaction && txn.receiveAck()) return; // ACK for a non-2xx: absorbed
    const d = toTag ? this.ctx.dialogs.match(ack.callId, toTag, ack.from.params.get('tag') ?? '') : undefined;
    if (!d || d.awaitingAckSeq !== ack.cseq.seq) {
      this.ctx.log.debug({ callId: ack.callId }, 'stray ACK dropped');
      return;
    }
    this.ctx.dialogs.retransmitter(d)?.ack();
    d.awaitingAckSeq = null;
    const owner = this.ctx.control().connection(d.ownerId);
    const s = inbound.source;
    if (owner) notifyNetwork(owner, s.transport, s.address, s.port, d.awaitingAckTxnId ?? '', d.id, raw);
  }

  private onCancel(inbound: Inbound, cancel: SipMessage): void {
    const invite = this.ctx.txns.findServer(cancel, 'INVITE');
    if (!(invite instanceof InviteServerTransaction)) throw new SipError(481, 'Call/Transaction Does Not Exist');
    const pending = this.byTxn.get(invite);
    const cancelTxn = this.ctx.txns.createServer(cancel, this.sendFn(cancel, inbound), this.reliable(inbound), { onTerminated: () => undefined });
    if (!invite.finalSent && pending) {
      // §9.2: 200 to the CANCEL, 487 to the INVITE, and the app hears of the CANCEL.
      cancelTxn.respond(makeResponse(cancel, 200, 'OK', pending.toTag));
      invite.respond(makeResponse(pending.req, 487, 'Request Terminated', pending.toTag));
      const owner = this.ctx.control().connection(pending.ownerId);
      const s = inbound.source;
      if (owner) notifyNetwork(owner, s.transport, s.address, s.port, pending.txnId, '', cancelFor(pending.req).toString());
      cdrStop(this.ctx, 'network', 'call-canceled', cancel);
      this.dropEarly(pending);
      this.finish(pending);
      return;
    }
    if (invite.lastStatus >= 200 && invite.lastStatus < 300) {
      // The call was answered before the CANCEL arrived: refuse it and end the call.
      cancelTxn.respond(makeResponse(cancel, 481, 'Call/Transaction Does Not Exist', Dialog.newTag()));
      const d = this.ctx.dialogs.match(cancel.callId, this.toTagOf(invite.request, cancel), cancel.from.params.get('tag') ?? '');
      if (d) this.terminator.bye(d, 'SIP ;cause=200 ;text="CANCEL after 200 OK"');
      return;
    }
    cancelTxn.respond(makeResponse(cancel, 200, 'OK', Dialog.newTag()));
  }

  private toTagOf(invite: SipMessage, cancel: SipMessage): string {
    for (const d of this.ctx.dialogs.all()) {
      if (d.callId === cancel.callId && d.remoteTag === (invite.from.params.get('tag') ?? '')) return d.localTag;
    }
    return '';
  }

  private inDialog(inbound: Inbound, req: SipMessage, raw: string, toTag: string, fromTag: string): void {
    const d = this.ctx.dialogs.match(req.callId, toTag, fromTag);
    if (!d) throw new SipError(481, 'Call/Transaction Does Not Exist');
    if (!d.acceptRemoteSeq(req)) throw new SipError(500, 'Server Internal Error', 'CSeq out of order');
    if (req.method === 'INVITE') {
      // §14.2: our own re-INVITE pending, or our offer in a 2xx whose ACK (the answer) has
      // not come → 491; theirs still unanswered → 500 with Retry-After. A re-INVITE before the
      // ACK of a 2xx that answered an offer goes to the app like any other (RFC 5407 §3.1.4:
      // that exchange is complete; drachtio-server does the same).
      if (d.serverInvitePending) {
        // §14.2: the 500 MUST carry a Retry-After chosen at random between 0 and 10 s.
        this.errors.respond(inbound, req, new SipError(500, 'Server Internal Error', 'previous INVITE pending'), [['Retry-After', String(randomInt(0, 11))]]);
        return;
      }
      if (d.clientInvitePending || (d.awaitingAckSeq !== null && d.ackBringsAnswer)) throw new SipError(491, 'Request Pending');
    }
    const owner = this.ctx.control().connection(d.ownerId);
    if (req.method === 'BYE' && !d.confirmed) return this.byeInEarlyDialog(inbound, req, d);
    if (!owner) {
      if (req.method === 'BYE') {
        this.ctx.dialogs.remove(d);
        this.statelessReply(inbound, req, 200);
        return;
      }
      throw new SipError(481, 'Call/Transaction Does Not Exist', 'dialog owner gone');
    }
    if (req.method === 'PRACK') return this.onPrack(inbound, req, raw, d, owner.id);
    d.refreshTarget(req);
    // A target refresh moves a NAT flow to its own source (a NAT that rebound); a Contact no longer behind one ends it.
    if (d.role === 'uas' && (req.method === 'INVITE' || req.method === 'UPDATE') && req.has('Contact')) d.natFlow = natFlow(this.ctx.natContact, d.remoteTarget, d.routeSet.length === 0, inbound.source);
    const pending = this.track(inbound, req, owner.id, toTag, d);
    if (req.method === 'INVITE') d.serverInvitePending = true;
    if (d.subscriptionOnly && subscriptionEnds(req)) this.ctx.dialogs.remove(d);
    if (req.method === 'BYE') {
      this.ctx.dialogs.remove(d);
      cdrStop(this.ctx, 'network', 'normal-release', req);
    }
    const s = inbound.source;
    notifyNetwork(owner, s.transport, s.address, s.port, pending.txnId, d.id, raw);
  }

  /**
   * §15: a caller may end an early dialog (one a reliable provisional made) with a BYE. It
   * gets its 200 and the INVITE its 487 (§15.1.2), and the app hears of it as of a CANCEL,
   * so the call stops there (before, the app answered the BYE 404 and the call went on).
   */
  private byeInEarlyDialog(inbound: Inbound, bye: SipMessage, d: Dialog): void {
    const txn = this.ctx.txns.createServer(bye, this.sendFn(bye, inbound), this.reliable(inbound), { onTerminated: () => undefined });
    txn.respond(makeResponse(bye, 200, 'OK'));
    const pending = [...this.ctx.pendingUas.values()].find((p) => p.early === d);
    if (!pending || pending.txn.finalSent) {
      this.ctx.dialogs.remove(d);
      return;
    }
    pending.txn.respond(makeResponse(pending.req, 487, 'Request Terminated', pending.toTag));
    const owner = this.ctx.control().connection(pending.ownerId);
    const s = inbound.source;
    if (owner) notifyNetwork(owner, s.transport, s.address, s.port, pending.txnId, '', cancelFor(pending.req).toString());
    cdrStop(this.ctx, 'network', 'call-canceled', bye);
    this.dropEarly(pending);
    this.finish(pending);
  }

  /**
   * RFC 3262 §3: a PRACK whose RAck names our outstanding reliable provisional stops its
   * retransmission and is answered 200 here (as drachtio-server does); the app is told.
   * Any other PRACK gets 481.
   */
  private onPrack(inbound: Inbound, req: SipMessage, raw: string, d: Dialog, ownerId: string): void {
    const rack = /^\s*(\d+)\s+(\d+)\s+INVITE\s*$/i.exec(req.get('RAck') ?? '');
    if (!rack || d.rseq === null || Number(rack[1]) !== d.rseq) throw new SipError(481, 'Call/Transaction Does Not Exist', 'PRACK matches no reliable provisional');
    d.stopReliable?.();
    d.stopReliable = null;
    const txn = this.ctx.txns.createServer(req, this.sendFn(req, inbound), this.reliable(inbound), { onTerminated: () => undefined });
    txn.respond(makeResponse(req, 200, 'OK'));
    const owner = this.ctx.control().connection(ownerId);
    const s = inbound.source;
    if (owner) notifyNetwork(owner, s.transport, s.address, s.port, nextId(), d.id, raw);
  }

  private statelessReply(inbound: Inbound, req: SipMessage, status: number): void {
    const t = responseDestination(req, inbound);
    this.ctx.sender.send(t.dest, makeResponse(req, status).toBuffer(), t.connectionId);
  }

  private outOfDialog(inbound: Inbound, req: SipMessage, raw: string, fromTag: string): void {
    const method = req.method ?? '';
    if (!APP_METHODS.has(method)) {
      if (method === 'BYE' || method === 'UPDATE' || method === 'PRACK') throw new SipError(481, 'Call/Transaction Does Not Exist');
      // §21.4.6: Allow lists the methods valid here, so not this one (a REFER, valid in a dialog only).
      this.errors.respond(inbound, req, new SipError(405, 'Method Not Allowed'), [['Allow', ALLOW.split(', ').filter((m) => m !== method).join(', ')]]);
      return;
    }
    const mergeKey = mergeKeyOf(req, fromTag);
    if (this.inProgress.has(mergeKey)) throw new SipError(482, 'Loop Detected', 'merged request');
    const owner = this.ctx.control().routes.pick(method);
    if (!owner) throw new SipError(503, 'Service Unavailable', `no app routed ${method}`);
    const pending = this.track(inbound, req, owner.id, Dialog.newTag(), null);
    this.inProgress.set(mergeKey, pending.txnId);
    if (method === 'INVITE') cdrAttempt(this.ctx, 'network', req);
    notifyNewRequest(owner, inbound, pending.txnId, '', raw);
  }

  /** Makes the server transaction (100 Trying for INVITEs, §8.2.6.1) and the pending record. */
  private track(inbound: Inbound, req: SipMessage, ownerId: string, toTag: string, dialog: Dialog | null): PendingUas {
    const txnId = nextId();
    const txn = this.ctx.txns.createServer(req, this.sendFn(req, inbound), this.reliable(inbound), this.forgetWhenTerminated(mergeKeyOf(req, req.from.params.get('tag') ?? '')));
    if (req.method === 'INVITE') txn.respond(makeResponse(req, 100, 'Trying'));
    const pending: PendingUas = { txnId, req, inbound, txn, ownerId, toTag, dialog, early: null, timer: null };
    this.armPending(pending, false);
    this.ctx.pendingUas.set(txnId, pending);
    this.byTxn.set(txn, pending);
    return pending;
  }

  /**
   * The transaction's user: it outlives the request by up to 64*T1 (timers J and L), so it is built
   * apart, holding the merge key only. An arrow made inside track() shared track's closure context
   * and kept the whole pending record (request, datagram, dialog) alive 32 s: most of the heap under load.
   */
  private forgetWhenTerminated(mergeKey: string): ServerTxnUser {
    return new ForgetMergeKey(this.inProgress, mergeKey);
  }

  /** (Re)starts the wait for the app's final response; `ringing`: it sent a provisional, so the caller rings as a callee may (timer C). */
  armPending(p: PendingUas, ringing: boolean): void {
    clearTimeout(p.timer ?? undefined);
    p.timer = setTimeout(() => this.neverAnswered(p), ringing ? Math.max(PENDING_LIMIT_MS, timerC(this.ctx.timers)) : PENDING_LIMIT_MS);
  }

  private neverAnswered(p: PendingUas): void {
    callLogger(this.ctx.log, p.req.callId).warn({ method: p.req.method }, 'app never answered, request dropped');
    // The caller still gets a final response (drachtio-server drops the request silently).
    if (!p.txn.finalSent && p.req.method !== 'ACK') {
      try {
        p.txn.respond(makeResponse(p.req, 500, 'Server Internal Error', p.toTag));
      } catch (err) {
        this.ctx.log.debug({ err }, '500 after 64 s without an answer not sent');
      }
    }
    this.dropEarly(p);
    this.finish(p);
    p.txn.terminate();
  }

  /** An early dialog (RFC 3262) that never got its 2xx goes away with its INVITE. */
  private dropEarly(p: PendingUas): void {
    if (p.early && !p.early.confirmed) {
      p.early.stopReliable?.();
      this.ctx.dialogs.remove(p.early);
    }
  }

  finish(p: PendingUas): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    this.ctx.pendingUas.delete(p.txnId);
    this.byTxn.delete(p.txn);
  }

  /** The app's connection went away: unanswered INVITEs get a 503 so callers are not left ringing. */
  ownerGone(ownerId: string): void {
    for (const p of [...this.ctx.pendingUas.values()]) {
      if (p.ownerId !== ownerId) continue;
      if (!p.txn.finalSent) {
        try {
          p.txn.respond(makeResponse(p.req, 503, 'Service Unavailable', p.toTag));
        } catch (err) {
          this.ctx.log.debug({ err }, '503 after app loss failed');
        }
        this.dropEarly(p);
      }
      this.finish(p);
    }
  }

  clear(): void {
    for (const p of [...this.ctx.pendingUas.values()]) this.finish(p);
    this.inProgress.clear();
    this.byTxn = new WeakMap();
  }
}

/** Forgets a request's merge key when its transaction ends (a class: see forgetWhenTerminated). */
class ForgetMergeKey implements ServerTxnUser {
  constructor(
    private readonly inProgress: Map<string, string>,
    private readonly key: string,
  ) {}
  onTerminated(): void {
    this.inProgress.delete(this.key);
  }
}

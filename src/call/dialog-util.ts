// drachtio-srf's Dialog.destroy() returns a promise that rejects when the dialog
// is already gone (the other side's BYE crossed ours). Hang-ups are fire and
// forget here: pass a callback so nothing is left unhandled, and log the outcome.
import type Srf from 'drachtio-srf';
import * as sdpTransform from 'sdp-transform';
import { SdpNegotiationError } from '../media-plane/media-errors.ts';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { Logger } from '../util/logger.ts';
import type { OutgoingOffer } from './hold.ts';

/** The final status (300–699) and phrase of a placed INVITE's SIP failure; null for anything else (a transport error, a bug). */
export function sipFailure(err: unknown): { status: number; reason: string } | null {
  const status = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  if (typeof status !== 'number' || status < 300 || status > 699) return null;
  return { status, reason: (err as { reason?: string }).reason ?? '' };
}

/** CANCELs a placed INVITE (null: not sent yet); one already answered is left to its 2xx. Never throws. */
/**
 * INVITEs a CANCEL was asked for: asked again (a ring timeout, then the leg's close), the SIP
 * core would send a second CANCEL, which a strict UAS that already answered the first takes for
 * a new, unexpected request.
 */
const cancelled = new WeakSet<object>();

export function cancelInvite(req: Srf.SrfRequest | null, log: Logger): void {
  if (!req || cancelled.has(req)) return;
  cancelled.add(req);
  try {
    req.cancel((err: unknown) => {
      if (err) log.debug({ err }, 'CANCEL not sent (the INVITE had already completed)');
    });
  } catch (err) {
    log.debug({ err }, 'CANCEL failed');
  }
}

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
 * srf.createUAS with `attach` run on the new dialog at once, inside drachtio-srf's callback: it
 * makes the dialog and hands it over in the same turn, and may handle the next message from the
 * SIP server (a re-INVITE, the ACK, both in one read) before a promise's continuation runs. A
 * listener added after `await createUAS()` missed those: without a 'modify' listener drachtio-srf
 * answered a re-INVITE itself with the first answer (seen through a real drachtio-server: an
 * offerless re-INVITE got the answer back, not a full offer).
 */
export function createUas(srf: Srf, req: Srf.SrfRequest, res: Srf.SrfResponse, opts: Srf.CreateUASOptions, attach: (dialog: Srf.Dialog) => void): Promise<Srf.Dialog> {
  return new Promise((resolve, reject) => {
    srf.createUAS(req, res, opts, (err: unknown, dialog: Srf.Dialog) => {
      if (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      attach(dialog);
      resolve(dialog);
    });
  });
}

/**
 * The Reason of a BYE the SIP server sent on its own and reported with a dialog's
 * 'destroy' (drachtio's `unsolicited`: no ACK for a 2xx within 64*T1, RFC 3261
 * §13.3.1.4; a session timer that expired; a CANCEL after the 200), or null for a
 * BYE from the peer. The call's other legs are ended with the same Reason.
 */
export function serverByeReason(bye: Srf.SrfRequest | undefined): string | null {
  if (!bye || bye.method !== 'BYE' || (bye as unknown as { source?: string }).source !== 'application') return null;
  return bye.get('Reason') ?? null;
}

/** Why a dialog whose peer never ACKed a 2xx ends (the words of drachtio-server's and the embedded server's timer H BYE). */
export const ACK_TIMEOUT_REASON = 'SIP ;cause=200 ;text="ACK timeout"';

/**
 * How long Parley waits for the ACK of its 200 to an offerless re-INVITE before it ends
 * the dialog itself: timer H (64*T1, RFC 3261 §13.3.1.4) and a little more, so that a SIP
 * server running timer H on a re-INVITE's 2xx (the embedded one) acts first. A real
 * drachtio-server runs it on the first INVITE's 2xx only: without this, a peer that never
 * sent the ACK left the call waiting for its answer for good.
 */
export function ackWaitMs(t1: number): number {
  return 68 * t1;
}

/**
 * A REFER from a peer (a phone's blind transfer) where Parley does not carry transfers out (an
 * IVR, a conference without `transfers: members`, a bridge with `transfers: refuse`) is refused with 403 and a Warning, and
 * the call goes on. Without a 'refer' listener drachtio-srf answered 200, so the phone took the
 * transfer as accepted, waited for NOTIFYs that never came and usually hung up (RFC 3515 §2.4.2
 * lets the recipient refuse).
 */
export function refuseRefers(dialog: Srf.Dialog, log: Logger): void {
  dialog.on('refer', (req: Srf.SrfRequest, res: Srf.SrfResponse) => refuseRefer(req, res, log));
}

export function refuseRefer(req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger): void {
  log.info({ referTo: req.get('Refer-To') }, 'REFER refused (403): Parley does not transfer this call on a peer\'s request');
  res.send(403, { headers: { Warning: '399 parley "call transfer (REFER) is not supported here"' } });
}

/** A Warning header (RFC 3261 §20.43) for a refused offer; no quote or control character escapes. */
export function warningHeader(err: SdpNegotiationError): string {
  const text = [...err.message.slice(0, 80)].map((ch) => (ch === '"' || ch === '\\' || ch < ' ' || ch === '\x7f' ? ' ' : ch)).join('');
  return `${err.warning} parley "${text}"`;
}

/** Why Parley ends a call whose peer's answer in an ACK cannot be used (RFC 3326). */
export const UNUSABLE_ANSWER_REASON = 'SIP;cause=488;text="Not Acceptable Here"';

/**
 * Answers the peer's re-INVITEs and UPDATEs (RFC 3311 §5.2) on a dialog from its
 * media leg (hold, resume, a new address or codec): RFC 3264 §6, the answer
 * reflects this offer, never our original SDP (drachtio-srf's default without a
 * 'modify' or 'update' listener). An offer that cannot be taken gets 488 and the
 * leg stays as it was. An UPDATE without a body (a session refresh) gets a bare 200.
 * An offerless re-INVITE (RFC 3261 §14.2, 3pcc transfers) gets a full offer in the
 * 200 (RFC 3264 §8, RFC 6337 §5.3: every codec the room takes, telephone-event, the
 * current crypto), and the answer in its ACK is applied (a peer that moved is
 * followed, another codec is switched to); an ACK without a usable answer, or no ACK
 * within `ackWaitMs` (see ackWaitMs()), calls `onEnd` with the Reason for every BYE
 * (without `onEnd` the dialog gets its BYE and the leg is closed). Until the ACK of a 200
 * that carried our offer (an offerless re-INVITE's, or the first INVITE's: `offerInAckOf`),
 * a new offer gets 491 (RFC 3261 §14.2); after a 200 that answered an offer it is taken,
 * even before that 200's ACK (RFC 5407 §3.1.4: that exchange is complete).
 * `onPeerOffer` runs after each offer of the peer's was answered (read the hold from
 * leg.media: hold.ts); while `outgoing.pending` (Parley's own re-INVITE on this dialog is
 * out, hold.ts) a new offer gets 491 (RFC 3261 §14.2).
 */
export function answerReoffers(
  dialog: Srf.Dialog,
  leg: MediaLeg,
  log: Logger,
  opts: { ackWaitMs: number; onEnd?: (reason: string, why: string) => void; offerInAckOf?: number; onPeerOffer?: () => void; outgoing?: OutgoingOffer },
): void {
  // One offer-answer exchange at a time (RFC 3264 §4): drachtio-srf emits 'ack' a turn later
  // than 'modify' (setImmediate), so a peer's ACK and its next re-INVITE sent back to back
  // reached us in the wrong order, and each answer went to the next offer, one step late.
  // Each request waits here until the ACK (by CSeq) of the last offerless re-INVITE's 200
  // has been applied, or its wait ended.
  let turn: Promise<void> = Promise.resolve();
  let ending = false;
  // The CSeq of our last offerless re-INVITE's 200 whose ACK has not come: the offer-answer
  // exchange is still in progress, and a new offer must get 491 (RFC 3261 §14.2, RFC 3311
  // §5.2). The embedded SIP server answers a re-INVITE before that ACK with 491 itself; a real
  // drachtio-server hands it to the app, where waiting for the ACK deadlocks with a peer that
  // waits for the re-INVITE's answer first (until the ACK timeout ended the call).
  // `offerInAckOf`: the CSeq of the dialog's INVITE whose 200 carried our offer (a delayed
  // offer, RFC 3261 §13.2.1); its answer comes in that ACK, which the caller applies.
  let unacked: number | null = opts.offerInAckOf ?? null;
  dialog.on('ack', (ack: Srf.SrfRequest) => {
    if (cseqNumber(ack) === unacked) unacked = null;
  });
  /** `go` once no ACK is outstanding, or 491. drachtio-srf emits 'ack' a turn late: an ACK that came just before is given that turn. */
  const unlessInProgress = (res: Srf.SrfResponse, go: () => void): void => {
    if (unacked === null) return go();
    setImmediate(() =>
      setImmediate(() => {
        if (unacked === null) go();
        else res.send(491);
      }),
    );
  };
  const inTurn = (res: Srf.SrfResponse, handle: () => Promise<void>): void => {
    turn = turn.then(() => {
      // RFC 3261 §15.1.2 by analogy: a request still waiting when the dialog ends gets 487.
      if (ending || (dialog as { connected?: boolean }).connected === false) {
        res.send(487);
        return;
      }
      return handle().catch((err: unknown) => log.warn({ err }, 'offer-answer failed'));
    });
  };
  dialog.on('update', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    const body = req.body ?? '';
    if (body.trim() === '') {
      res.send(200);
      return;
    }
    if (opts.outgoing?.pending) {
      res.send(491);
      return;
    }
    unlessInProgress(res, () =>
      inTurn(res, async () => {
        if (leg.isClosed) {
          res.send(200);
          return;
        }
        try {
          const sdp = await leg.applyOffer(body);
          dialog.local.sdp = sdp;
          res.send(200, { body: sdp, headers: { 'Content-Type': 'application/sdp' } });
          opts.onPeerOffer?.();
        } catch (err) {
          log.warn({ err }, 'UPDATE offer refused');
          refuseOffer(res, err);
        }
      }),
    );
  });
  const unusable = (reason: string, why: string): void => {
    ending = true;
    log.warn({ why }, 'no usable answer to our offer in an offerless re-INVITE\'s 200; ending the dialog');
    if (opts.onEnd) opts.onEnd(reason, why);
    else {
      destroyDialog(dialog, log, { Reason: reason });
      leg.close();
    }
  };
  dialog.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
    const seq = cseqNumber(req);
    if (opts.outgoing?.pending) {
      res.send(491);
      return;
    }
    unlessInProgress(res, () => inTurn(res, async () => {
      const body = req.body ?? '';
      // An offerless re-INVITE (RFC 3261 §14.2): a full offer in the 200, not just the codec
      // in use, so that a new peer behind a PBX's transfer may choose another (RFC 6337 §5.3).
      const offerless = body.trim() === '';
      let sdp: string;
      try {
        sdp = leg.isClosed ? leg.localSdp : offerless ? await leg.makeReoffer() : await leg.applyOffer(body);
      } catch (err) {
        log.warn({ err }, 're-INVITE offer refused');
        refuseOffer(res, err);
        return;
      }
      dialog.local.sdp = sdp;
      const answered = offerless && !leg.isClosed ? awaitAnswerInAck(dialog, leg, seq, log, unusable, opts.ackWaitMs) : null;
      if (answered) unacked = seq;
      res.send(200, { body: sdp, headers: { 'Content-Type': 'application/sdp' } });
      if (!offerless && !leg.isClosed) opts.onPeerOffer?.();
      if (answered) {
        await answered;
        if (unacked === seq) unacked = null;
      }
    }));
  });
}

/** 488 for an offer the leg cannot take, with a Warning saying why (RFC 3261 §20.43: 304, 305, …) when it is the offer's fault. */
function refuseOffer(res: Srf.SrfResponse, err: unknown): void {
  if (err instanceof SdpNegotiationError) res.send(488, { headers: { Warning: warningHeader(err) } });
  else res.send(488);
}

/** The sequence number of a request's CSeq (NaN when unreadable). */
export function cseqNumber(req: Srf.SrfRequest): number {
  return Number(/^\s*(\d+)/.exec(req.get('CSeq') ?? '')?.[1] ?? NaN);
}

/** The family of the first audio stream's c= line in an SDP (null when it has none). */
function answerFamily(sdp: string): 4 | 6 | null {
  let s: sdpTransform.SessionDescription;
  try {
    s = sdpTransform.parse(sdp);
  } catch {
    return null;
  }
  const m = (s.media ?? []).find((x) => x.type === 'audio' && x.port !== 0);
  const c = m?.connection ?? s.connection;
  return c ? (c.version === 6 ? 6 : 4) : null;
}

/**
 * Applies an answer to an offer whose answer the leg has taken already, or that the
 * leg made from its current SDP (the 200 of a forked INVITE after another branch's
 * 183, the ACK of an offerless re-INVITE): the leg negotiates it as it would an
 * offer (address, codec, direction). It answers what we offered, so it must keep our
 * socket's family (another one would need a port the peer was never told).
 * Throws SdpNegotiationError when it cannot be used.
 */
export async function applyLaterAnswer(leg: MediaLeg, sdp: string): Promise<void> {
  const family = answerFamily(sdp);
  const ours = leg.media?.family;
  if (family === null) throw new SdpNegotiationError('an answer without a usable audio stream', 304);
  if (ours !== undefined && family !== ours) throw new SdpNegotiationError(`c=IN IP${family} in an answer to an offer made in IP${ours}`, 301);
  await leg.applyOffer(sdp);
}

/** Whether two SDPs describe the same session (the o= line aside: its version may move on). */
export function sameSession(a: string, b: string): boolean {
  const norm = (s: string): string =>
    s
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('o='))
      .join('\n');
  return norm(a) === norm(b);
}

/**
 * The ACK of an offerless re-INVITE carries the peer's answer to our offer (RFC 3261
 * §13.2.1, §14): the leg takes it as the answer to its re-offer (the codec it chose,
 * the address, the crypto). It answers what we offered, so it keeps our socket's family
 * (another one would need a new port the peer was never told).
 * The dialog's own ACKs are told apart by CSeq (a late ACK of the first 200 is not it).
 * No ACK within `waitMs` ends the dialog (RFC 3261 §13.3.1.4); the timer goes with the
 * ACK, the dialog or the leg, whichever ends first. Resolves when the wait is over (the
 * answer applied or refused, no ACK in time, the dialog or the leg gone).
 */
function awaitAnswerInAck(dialog: Srf.Dialog, leg: MediaLeg, seq: number, log: Logger, unusable: (reason: string, why: string) => void, waitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | null = null;
  let settle: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const stop = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    dialog.off('ack', onAck);
    dialog.off('destroy', stop);
    leg.off('close', stop);
    settle();
  };
  const onAck = (ack: Srf.SrfRequest): void => {
    if (cseqNumber(ack) !== seq) return;
    dialog.off('ack', onAck);
    const body = ack.body ?? '';
    if (leg.isClosed) return stop();
    if (body.trim() === '') {
      // The dialog is ending before the next request's turn comes (it gets 487).
      unusable(UNUSABLE_ANSWER_REASON, 'no SDP answer in the ACK to an offerless re-INVITE');
      stop();
      return;
    }
    if (timer) clearTimeout(timer);
    timer = null;
    // The next offer waits for this answer: it is made from what the answer negotiated.
    leg
      .applyAnswer(body)
      .then(() => {
        stop();
        log.info({ codec: leg.media?.codec }, 'the peer answered our offer in the ACK of its offerless re-INVITE');
      })
      .catch((err: unknown) => {
        if (!leg.isClosed) {
          log.warn({ err }, 'answer in the ACK refused');
          unusable(UNUSABLE_ANSWER_REASON, 'the answer in the ACK cannot be used');
        }
        stop();
      });
  };
  timer = setTimeout(() => {
    timer = null;
    if (!leg.isClosed && (dialog as { connected?: boolean }).connected !== false) unusable(ACK_TIMEOUT_REASON, `no ACK for the 200 to an offerless re-INVITE within ${waitMs} ms`);
    stop();
  }, waitMs);
  dialog.on('ack', onAck);
  dialog.once('destroy', stop);
  leg.once('close', stop);
  return settled;
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
  // Answered already: the BYE says why with the status it would have been (RFC 3326).
  if (s.uas) destroyDialog(s.uas, log, status !== undefined && status >= 400 ? { Reason: `SIP;cause=${status}${reason ? `;text="${reason.replace(/["\\\r\n]/g, '')}"` : ''}` } : undefined);
  else if (!s.res.finalResponseSent) {
    if (reason) s.res.send(status ?? 480, reason, {});
    else s.res.send(status ?? 480);
  }
  return s.uas ? 'hung up by Parley' : `rejected ${status ?? 480}`;
}

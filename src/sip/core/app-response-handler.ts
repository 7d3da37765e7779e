// Responses an app sends to requests from the network (`sip|txnId|` + SIP response).
// The server owns Via, From, To-tag, Call-ID, CSeq, Record-Route and Content-Length; it adds
// Contact and Content-Type where missing, creates the UAS dialog on a 2xx to INVITE and
// retransmits that 2xx until the ACK comes (RFC 3261 §13.3.1.4).
import { natFlow } from '../dialog/nat-flow.ts';
import { callLogger } from '../../util/logger.ts';
import type { ControlConnection } from '../control/control-connection.ts';
import { Dialog } from '../dialog/dialog.ts';
import { Uas2xxRetransmitter } from '../dialog/uas-2xx-retransmitter.ts';
import { parseNameAddr } from '../message/header-values.ts';
import type { SipMessage } from '../message/sip-message.ts';
import { responseDestination } from './message-factory.ts';
import { cdrStart, cdrStop } from './cdr-emitter.ts';
import type { CoreContext, PendingUas } from './core-context.ts';
import { uasSessionTimer } from '../dialog/session-timer.ts';
import type { DialogTerminator } from './dialog-terminator.ts';
import type { SessionRefresher } from './session-refresher.ts';
import { contactFor, ensureSdpType, makeResponse, meta6, wantsSips } from './message-factory.ts';
import { isStream } from '../transport/transport-types.ts';
import type { NetworkRequestHandler } from './network-request-handler.ts';

const SERVER_OWNED = new Set(['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Record-Route', 'RSeq', 'Content-Length']);

export class AppResponseHandler {
  constructor(
    private readonly ctx: CoreContext,
    private readonly requests: NetworkRequestHandler,
    private readonly terminator: DialogTerminator,
    private readonly sessions: SessionRefresher,
  ) {}

  handle(conn: ControlConnection, rid: string, txnId: string, app: SipMessage): void {
    const p = this.ctx.pendingUas.get(txnId);
    if (!p) {
      conn.reply(rid, 'NOK|unknown transaction or final response already sent');
      return;
    }
    const req = p.req;
    const status = app.status;
    const appTo = app.get('To');
    if (appTo && !req.to.params.get('tag')) {
      const tag = parseNameAddr(appTo).params.get('tag');
      if (tag) p.toTag = tag; // the app may choose the To tag
    }
    const res = makeResponse(req, status, app.reason, p.toTag);
    const dialogForming = (req.method === 'INVITE' || req.method === 'SUBSCRIBE') && status > 100 && status < 300;
    if (dialogForming && !p.dialog) for (const rr of req.getAll('Record-Route')) res.add('Record-Route', rr); // §12.1.1
    for (const h of app.headers) if (!SERVER_OWNED.has(h.name)) res.headers.push({ ...h });
    const lp = this.ctx.sender.localFor(p.inbound.source.transport, p.inbound.source.address);
    if (dialogForming && !res.has('Contact')) res.add('Contact', contactFor(lp, wantsSips(req)));
    res.body = app.body;
    ensureSdpType(res);
    // RFC 4028: a 2xx to an INVITE or UPDATE sets, refreshes or drops the session timer (undefined: not such a 2xx).
    const session = status >= 200 && status < 300 && (req.method === 'INVITE' || req.method === 'UPDATE') ? uasSessionTimer(req, res) : undefined;
    res.keepWire(); // serialised once: sent, retransmitted (2xx, reliable 1xx) and echoed to the app

    let dialogId = p.dialog?.id ?? p.early?.id ?? '';
    if (status > 100 && status < 200 && req.method === 'INVITE' && !p.dialog) {
      // §12.1: a provisional with a To tag makes an early dialog, reliable or not; the
      // caller's INFO (DTMF to an early-media menu), UPDATE or BYE may come in it.
      dialogId = /\b100rel\b/i.test(res.get('Require') ?? '') ? this.reliableProvisional(p, res, conn).id : this.earlyDialog(p, res, conn).id;
    }
    if (req.method === 'SUBSCRIBE' && status >= 200 && status < 300 && !p.dialog) {
      // RFC 6665 §4.1: a 2xx to a SUBSCRIBE makes a dialog for the NOTIFYs; no ACK is involved.
      const d = this.uasDialog(p, res, conn);
      d.subscriptionOnly = true;
      this.ctx.dialogs.add(d);
      d.awaitingAckSeq = null;
      dialogId = d.id;
    }
    if (req.method === 'INVITE' && status >= 200) {
      p.early?.stopReliable?.();
      if (status < 300) dialogId = this.confirm(p, res, conn).id;
      else if (p.dialog) p.dialog.serverInvitePending = false;
      else if (p.early) this.ctx.dialogs.remove(p.early);
      if (!p.dialog) {
        if (status < 300) cdrStart(this.ctx, 'application', 'uas', res);
        else cdrStop(this.ctx, 'application', 'call-rejected', res);
      }
    }
    if (session !== undefined) {
      const d = p.dialog ?? this.ctx.dialogs.get(dialogId);
      // We are the UAS of this transaction: refresher=uas is us.
      if (d) this.sessions.arm(d, session?.interval ?? null, session?.refresher === 'uas');
    }
    const target = responseDestination(req, p.inbound);
    p.txn.respond(res);
    if (status >= 200) this.requests.finish(p);
    else if (status > 100 && req.method === 'INVITE') this.requests.armPending(p, true);
    const text = res.toString();
    // Sent where the request came from: on a stream, its connection (the source port).
    const to = target.connectionId ? p.inbound.source : target.dest;
    conn.reply(rid, `OK|${meta6('application', Buffer.byteLength(text), to.transport, to.address, to.port)}|${txnId}|${dialogId}||Msg sent:|\r\n${text}`);
  }

  /**
   * The app's response to `txnId` could not be built (unparseable, or refused while being
   * written): when it was a final one (`status` unknown counts as final) the caller gets a
   * 500 now, not at the 64 s backstop; the app is told NOK either way.
   */
  unusable(conn: ControlConnection, rid: string, txnId: string, status: number | null, why: string): void {
    const p = this.ctx.pendingUas.get(txnId);
    if (p && (status === null || status >= 200) && !p.txn.finalSent && p.req.method !== 'ACK') {
      callLogger(this.ctx.log, p.req.callId).warn({ method: p.req.method, why }, 'the app\'s response could not be built: 500 instead');
      try {
        p.txn.respond(makeResponse(p.req, 500, 'Server Internal Error', p.toTag));
      } catch (err) {
        this.ctx.log.debug({ err }, '500 in place of an unusable response not sent');
      }
      if (p.early && !p.early.confirmed) {
        p.early.stopReliable?.();
        this.ctx.dialogs.remove(p.early);
      }
      this.requests.finish(p);
    }
    conn.reply(rid, `NOK|${why.replace(/[|\r\n]/g, ' ')}`);
  }

  /**
   * RFC 3262 §3: a reliable provisional gets an RSeq, makes the early dialog the PRACK will
   * arrive in, and is retransmitted (T1 doubling) until that PRACK; after 64*T1 the INVITE
   * is rejected with a 5xx.
   */
  private reliableProvisional(p: PendingUas, res: SipMessage, conn: ControlConnection): Dialog {
    const d = this.earlyDialog(p, res, conn);
    d.stopReliable?.();
    d.rseq = d.rseq === null ? Math.floor(Math.random() * 100000) + 1 : d.rseq + 1;
    res.add('RSeq', String(d.rseq));
    const target = responseDestination(p.req, p.inbound);
    const r = new Uas2xxRetransmitter(
      () => this.ctx.sender.send(target.dest, res.toBuffer(), target.connectionId),
      isStream(p.inbound.source.transport),
      { ...this.ctx.timers, t2: Number.MAX_SAFE_INTEGER }, // §3: plain doubling, no T2 cap
      () => {
        if (p.txn.finalSent) return;
        callLogger(this.ctx.log, p.req.callId).info({ rseq: d?.rseq }, 'no PRACK for a reliable provisional, rejecting the INVITE');
        p.txn.respond(makeResponse(p.req, 500, 'No PRACK', p.toTag));
        this.requests.finish(p);
        if (p.early) this.ctx.dialogs.remove(p.early);
      },
    );
    d.stopReliable = () => r.ack();
    return d;
  }

  /** The early dialog of the INVITE's provisionals (§12.1.1), made by the first one. */
  private earlyDialog(p: PendingUas, res: SipMessage, conn: ControlConnection): Dialog {
    if (p.early) return p.early;
    const d = this.uasDialog(p, res, conn);
    d.confirmed = false;
    this.ctx.dialogs.add(d);
    p.early = d;
    return d;
  }

  private uasDialog(p: PendingUas, res: SipMessage, conn: ControlConnection): Dialog {
    const req = p.req;
    const contact = req.get('Contact');
    const d = new Dialog({
      role: 'uas',
      callId: req.callId,
      localTag: p.toTag,
      remoteTag: req.from.params.get('tag') ?? '',
      localHeader: res.get('To') ?? '',
      remoteHeader: req.get('From') ?? '',
      localSeq: Math.floor(Math.random() * 10000) + 1,
      remoteSeq: req.cseq.seq,
      remoteTarget: contact ? parseNameAddr(contact).uri : req.uri ?? '',
      routeSet: req.getAll('Record-Route'),
      transport: p.inbound.source.transport,
      connectionId: p.inbound.connectionId,
      ownerId: conn.id,
      inviteSeq: req.cseq.seq,
      inviteTxnId: p.txnId,
    });
    d.natFlow = natFlow(this.ctx.natContact, d.remoteTarget, d.routeSet.length === 0, p.inbound.source);
    return d;
  }

  /** A 2xx to an INVITE: the UAS dialog (§12.1.1; maybe early until now) or, for a re-INVITE, the existing one, awaiting ACK. */
  private confirm(p: PendingUas, res: SipMessage, conn: ControlConnection): Dialog {
    const req = p.req;
    let d = p.dialog ?? p.early;
    if (!d) {
      d = this.uasDialog(p, res, conn);
      this.ctx.dialogs.add(d);
    }
    d.confirmed = true;
    d.serverInvitePending = false;
    d.awaitingAckSeq = req.cseq.seq;
    d.awaitingAckTxnId = p.txnId;
    // An offer in a reliable provisional (p.early) was answered in its PRACK.
    d.ackBringsAnswer = req.body.length === 0 && res.body.length > 0 && !p.early;
    const dialog = d;
    const target = responseDestination(req, p.inbound);
    const wire = res.toBuffer();
    const retransmitter: Uas2xxRetransmitter = new Uas2xxRetransmitter(
      () => this.ctx.sender.send(target.dest, wire, target.connectionId),
      isStream(p.inbound.source.transport),
      this.ctx.timers,
      (why) => {
        if (why === 'timeout') {
          callLogger(this.ctx.log, dialog.callId).info({ dialog: dialog.id }, 'no ACK for 2xx (timer H), ending the dialog');
          this.terminator.bye(dialog, 'SIP ;cause=200 ;text="ACK timeout"');
        } else {
          // §17.2.4: the caller cannot be reached (its TCP or TLS connection is gone and a new one
          // refused): no ACK will come, so the dialog ends now, not at timer H.
          callLogger(this.ctx.log, dialog.callId).info({ dialog: dialog.id }, 'the 2xx could not be sent (transport error), ending the dialog');
          this.terminator.bye(dialog, 'SIP ;cause=500 ;text="2xx not delivered"');
        }
      },
    );
    this.ctx.dialogs.setRetransmitter(d, retransmitter);
    return d;
  }
}

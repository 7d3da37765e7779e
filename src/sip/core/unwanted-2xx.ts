// RFC 3261 §13.2.2.4: a UAC core that gets a 2xx for a dialog it does not want MUST ACK it and
// then end it with a BYE, or the callee stays in a call nobody hears. Such 2xx: another fork's
// after the first (while the transaction is Accepted, RFC 6026 §7.2), one whose app is gone, and
// one that comes after its INVITE's transaction ended (timer B; the 64*T1 after a CANCEL, ours
// or timer C's, §9.1; a DNS failover that gave up on a target; timer D after a non-2xx final
// response; timer M after a 2xx, another fork answering late): that one matches no transaction,
// so the INVITE is remembered here (a few fields, not the message) for timer C, the longest a
// proxy lets a branch ring (§16.6 step 11). One in Completed, after a non-2xx, comes through the
// transaction (onLate2xx).
import { callLogger } from '../../util/logger.ts';
import { Dialog } from '../dialog/dialog.ts';
import { natFlow } from '../dialog/nat-flow.ts';
import { parseNameAddr } from '../message/header-values.ts';
import { SipMessage } from '../message/sip-message.ts';
import { timerC } from '../transaction/timer-values.ts';
import { TransactionLayer } from '../transaction/transaction-layer.ts';
import { isStream, type Endpoint } from '../transport/transport-types.ts';
import type { CoreContext } from './core-context.ts';
import { dialogDestination, newBranch, viaFor } from './message-factory.ts';

/** What a dialog from a 2xx to an INVITE we sent needs of that INVITE. */
export interface SentInvite {
  req: SipMessage;
  dest: Endpoint;
  ownerId: string;
  txnId: string;
}

interface Abandoned {
  callId: string;
  from: string;
  seq: number;
  uri: string;
  dest: Endpoint;
  ownerId: string;
  txnId: string;
  until: number;
}

interface EndedDialog {
  /** Null until sent (its destination is resolved first). */
  ack: Buffer | null;
  dest: Endpoint | null;
  until: number;
}

/** Abandoned INVITEs kept at most (oldest forgotten first): a bound however many time out. */
const MAX_ABANDONED = 10_000;

export class Unwanted2xx {
  /** By client transaction key (branch|INVITE); inserted in expiry order. */
  private readonly abandoned = new Map<string, Abandoned>();
  /** Dialogs ended here, by Call-ID|local tag|remote tag: a retransmitted 2xx gets the ACK again, not another BYE. */
  private readonly ended = new Map<string, EndedDialog>();

  constructor(private readonly ctx: CoreContext) {}

  /** An initial INVITE whose transaction ended (with or without a final response from the network). */
  abandon(s: SentInvite): void {
    if (s.req.method !== 'INVITE' || s.req.to.params.get('tag')) return;
    const now = Date.now();
    sweep(this.abandoned, now);
    if (this.abandoned.size >= MAX_ABANDONED) this.abandoned.delete(this.abandoned.keys().next().value!);
    this.abandoned.set(TransactionLayer.clientKey(s.req), {
      callId: s.req.callId, from: s.req.get('From') ?? '', seq: s.req.cseq.seq, uri: s.req.uri ?? '',
      dest: s.dest, ownerId: s.ownerId, txnId: s.txnId, until: now + timerC(this.ctx.timers),
    });
  }

  /** A 2xx to an INVITE that matched no transaction and no dialog: true when it answered an INVITE of ours that was given up. */
  stray(res: SipMessage): boolean {
    const now = Date.now();
    sweep(this.abandoned, now);
    const a = this.abandoned.get(TransactionLayer.clientKey(res));
    if (!a || a.callId !== res.callId || a.seq !== res.cseq.seq) return false;
    const req = SipMessage.request('INVITE', a.uri).add('From', a.from).add('Call-ID', a.callId).add('CSeq', `${a.seq} INVITE`);
    const d = uacDialog(this.ctx, { req, dest: a.dest, ownerId: a.ownerId, txnId: a.txnId }, res, res.to.params.get('tag') ?? '');
    this.end(d, 'an INVITE given up (no final response in time)').catch((err: unknown) => this.ctx.log.info({ err }, 'late 2xx cleanup failed'));
    return true;
  }

  /** ACK the 2xx that made `d` (not in the DialogLayer), then BYE; a retransmission of it gets the ACK alone. */
  async end(d: Dialog, why: string): Promise<void> {
    const now = Date.now();
    sweep(this.ended, now);
    const key = `${d.callId}|${d.localTag}|${d.remoteTag}`;
    const done = this.ended.get(key);
    if (done) {
      if (done.ack && done.dest) this.ctx.sender.send(done.dest, done.ack, null);
      return;
    }
    // Claimed before the await: a retransmission in the meantime sends no second BYE.
    const pending: EndedDialog = { ack: null, dest: null, until: now + 64 * this.ctx.timers.t1 };
    this.ended.set(key, pending);
    const dest = await dialogDestination(d, this.ctx.resolver);
    const lp = this.ctx.sender.localFor(dest.transport, dest.address);
    const ack = d.buildRequest(SipMessage.request('ACK', 'sip:placeholder'), null);
    ack.prepend('Via', viaFor(lp, newBranch()));
    const wire = ack.toBuffer();
    pending.ack = wire;
    pending.dest = dest;
    this.ctx.sender.send(dest, wire, null);
    const bye = d.buildRequest(SipMessage.request('BYE', 'sip:placeholder'), null);
    bye.prepend('Via', viaFor(lp, newBranch()));
    this.ctx.txns.createClient(bye, (m) => {
      this.ctx.sender.send(dest, m.toBuffer(), null);
    }, isStream(dest.transport), { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined, onTerminated: () => undefined });
    callLogger(this.ctx.log, d.callId).info({ remoteTag: d.remoteTag }, `2xx of ${why} ACKed and ended`);
  }

  close(): void {
    this.abandoned.clear();
    this.ended.clear();
  }
}

/** Drops expired entries from the front of a map kept in expiry order (no timers to clear). */
function sweep(m: Map<string, { until: number }>, now: number): void {
  for (const [k, v] of m) {
    if (v.until > now) return;
    m.delete(k);
  }
}

/** The UAC dialog a 2xx to our INVITE makes (§12.1.2): its route set is the 2xx's Record-Route in reverse. */
export function uacDialog(ctx: CoreContext, s: SentInvite, res: SipMessage, toTag: string): Dialog {
  const contact = res.get('Contact');
  const d = new Dialog({
    role: 'uac',
    callId: s.req.callId,
    localTag: s.req.from.params.get('tag') ?? '',
    remoteTag: toTag,
    localHeader: s.req.get('From') ?? '',
    remoteHeader: res.get('To') ?? '',
    localSeq: s.req.cseq.seq,
    remoteSeq: null,
    remoteTarget: contact ? parseNameAddr(contact).uri : s.req.uri ?? '',
    routeSet: res.getAll('Record-Route').reverse(),
    transport: s.dest.transport,
    connectionId: null,
    ownerId: s.ownerId,
    inviteSeq: s.req.cseq.seq,
    inviteTxnId: s.txnId,
  });
  // Its 2xx came back from where the INVITE went (symmetric SIP): a Contact behind a NAT is reached there.
  d.natFlow = natFlow(ctx.natContact, d.remoteTarget, d.routeSet.length === 0, s.dest);
  return d;
}

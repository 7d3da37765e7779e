// One dialog (RFC 3261 §12): identifiers, sequence numbers, remote target and route set,
// and the in-dialog request builder that turns an app's `sip:placeholder` skeleton into a
// routable request (§12.2.1.1).
import { randomHex } from '../message/random-hex.ts';
import { SipMessage } from '../message/sip-message.ts';
import { parseNameAddr, parseUri } from '../message/header-values.ts';
import type { Endpoint, TransportName } from '../transport/transport-types.ts';

export type DialogRole = 'uas' | 'uac';
export type DialogState = 'confirmed' | 'terminated';

export interface DialogInit {
  role: DialogRole;
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Full From/To header values of the local and remote side, tags included. */
  localHeader: string;
  remoteHeader: string;
  localSeq: number;
  remoteSeq: number | null;
  remoteTarget: string;
  routeSet: string[];
  transport: TransportName;
  ownerId: string;
  connectionId: string | null;
  /** CSeq of the INVITE that created the dialog. */
  inviteSeq: number;
  /** The stack transaction id of that INVITE (ACKs reach the app with it). */
  inviteTxnId: string;
}

export class Dialog {
  /** drachtio's dialog id (see the constructor); DialogLayer.add tells the two ends of a call Parley placed to itself apart. */
  id: string;
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localHeader: string;
  readonly remoteHeader: string;
  localSeq: number;
  remoteSeq: number | null;
  remoteTarget: string;
  readonly routeSet: string[];
  readonly transport: TransportName;
  readonly ownerId: string;
  /** The TCP connection the dialog was made on; in-dialog requests reuse it while it lives. */
  readonly connectionId: string | null;
  state: DialogState = 'confirmed';
  /** The INVITE transaction whose 2xx awaits an ACK (UAS), with its CSeq. */
  awaitingAckSeq: number | null = null;
  awaitingAckTxnId: string | null;
  /**
   * That 2xx carries our offer (the INVITE had none and no reliable provisional carried it,
   * RFC 3261 §13.2.1): the ACK brings the answer, and until it comes an offer-answer exchange
   * is in progress (a new re-INVITE gets 491). A 2xx that answered the INVITE's offer
   * completed its exchange: a re-INVITE before its ACK goes to the app (RFC 5407 §3.1.4).
   */
  ackBringsAnswer = false;
  /** An INVITE of ours in this dialog still without a final response. */
  clientInvitePending = false;
  /** Our last INVITE in it got a non-2xx final response: its ACK was the transaction's (§17.1.1.3), the app sends none. */
  lastClientInviteFailed = false;
  /** An INVITE from the peer in this dialog still without a final response. */
  serverInvitePending = false;
  /** CSeq of the last INVITE we sent (the one an app ACK acknowledges). */
  lastClientInviteSeq: number;
  /** The last ACK we sent for a 2xx, resent when the 2xx is retransmitted (§13.2.2.4). */
  lastAck: SipMessage | null = null;
  /** UAS: RSeq of the last reliable provisional we sent; UAC: of the last one received (RFC 3262). */
  rseq: number | null = null;
  /** UAS: retransmissions of a reliable provisional until its PRACK. */
  stopReliable: (() => void) | null = null;
  /** False while early (a provisional with a To tag made it, no 2xx yet). */
  confirmed = true;
  /**
   * Made by a SUBSCRIBE's 2xx (RFC 6665 §4.1): a NOTIFY saying `terminated` ends it. An
   * INVITE's dialog outlives the subscription a REFER adds to it (RFC 3515 §2.4.4, RFC 5057 §5).
   */
  subscriptionOnly = false;
  /** RFC 4028: the timeout that refreshes (ours) or ends (the peer's) the session. */
  sessionTimeout: NodeJS.Timeout | null = null;
  /** Where in-dialog requests go instead of the remote target's address: a peer behind a NAT (nat-flow.ts). */
  natFlow: Endpoint | null = null;

  constructor(init: DialogInit) {
    this.role = init.role;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localHeader = init.localHeader;
    this.remoteHeader = init.remoteHeader;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.transport = init.transport;
    this.ownerId = init.ownerId;
    this.connectionId = init.connectionId;
    this.lastClientInviteSeq = init.role === 'uac' ? init.inviteSeq : 0;
    this.awaitingAckTxnId = init.inviteTxnId;
    // drachtio's dialog id: Call-ID and the From tag of the dialog-creating request.
    this.id = `${init.callId};from-tag=${init.role === 'uas' ? init.remoteTag : init.localTag}`;
  }

  /** The key incoming requests are matched on: Call-ID, our tag (their To), their tag (their From). */
  get matchKey(): string {
    return Dialog.matchKey(this.callId, this.localTag, this.remoteTag);
  }

  static matchKey(callId: string, localTag: string, remoteTag: string): string {
    return `${callId}|${localTag}|${remoteTag}`;
  }

  static newTag(): string {
    return randomHex(6);
  }

  /**
   * §12.2.2: requests must come in order; a lower CSeq is answered 500. Returns false then.
   * ACK and CANCEL carry the INVITE's number and are not checked.
   */
  acceptRemoteSeq(req: SipMessage): boolean {
    const m = req.method;
    if (m === 'ACK' || m === 'CANCEL') return true;
    const seq = req.cseq.seq;
    if (this.remoteSeq !== null && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** §12.2.2 target refresh: a re-INVITE or UPDATE with a Contact replaces the remote target. */
  refreshTarget(req: SipMessage): void {
    if (req.method !== 'INVITE' && req.method !== 'UPDATE') return;
    const c = req.get('Contact');
    if (c) this.remoteTarget = parseNameAddr(c).uri;
  }

  /**
   * Builds an in-dialog request (§12.2.1.1) from the app's skeleton: the server owns From,
   * To, Call-ID, CSeq, Route and Via; the app's other headers and body are kept.
   */
  buildRequest(skeleton: SipMessage, contact: string | null): SipMessage {
    const method = skeleton.method ?? 'INFO';
    let seq: number;
    if (method === 'ACK') seq = this.lastClientInviteSeq;
    else seq = ++this.localSeq;
    const { requestUri, routes } = this.routing(skeleton.uri, method);
    const req = SipMessage.request(method, requestUri);
    for (const r of routes) req.add('Route', r);
    req.add('Max-Forwards', '70');
    req.add('From', this.localHeader);
    req.add('To', this.remoteHeader);
    req.add('Call-ID', this.callId);
    req.add('CSeq', `${seq} ${method}`);
    const skip = new Set(['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Route', 'Content-Length', 'Max-Forwards']);
    for (const h of skeleton.headers) if (!skip.has(h.name)) req.headers.push({ ...h });
    if (contact && (method === 'INVITE' || method === 'UPDATE' || method === 'SUBSCRIBE' || method === 'REFER') && !req.has('Contact')) {
      req.add('Contact', contact);
    }
    req.body = skeleton.body;
    if (method === 'PRACK' && !req.has('RAck') && this.rseq !== null) req.add('RAck', `${this.rseq} ${this.lastClientInviteSeq} INVITE`);
    if (method === 'INVITE') {
      this.lastClientInviteSeq = seq;
    }
    return req;
  }

  /** §12.2.1.1: loose routing keeps the target in the Request-URI; a strict first route takes it. */
  private routing(skeletonUri: string | null, method: string): { requestUri: string; routes: string[] } {
    // drachtio-srf sends ACK and PRACK with the INVITE's Request-URI; in a dialog they go to the remote target.
    const target = !skeletonUri || skeletonUri === 'sip:placeholder' || method === 'ACK' || method === 'PRACK' ? this.remoteTarget : skeletonUri;
    if (this.routeSet.length === 0) return { requestUri: target, routes: [] };
    const first = parseNameAddr(this.routeSet[0]);
    if (parseUri(first.uri).params.has('lr')) return { requestUri: target, routes: [...this.routeSet] };
    return { requestUri: first.uri, routes: [...this.routeSet.slice(1), `<${target}>`] };
  }

  /** Where an in-dialog request goes first: the top route, or the remote target. */
  get nextHopUri(): string {
    if (this.routeSet.length === 0) return this.remoteTarget;
    return parseNameAddr(this.routeSet[0]).uri;
  }

  terminate(): void {
    this.state = 'terminated';
    if (this.sessionTimeout) clearTimeout(this.sessionTimeout);
    this.sessionTimeout = null;
  }
}

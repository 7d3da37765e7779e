// What the core handlers share: the layers below them, the control server above, and the
// two tables of requests in flight between the network and the apps.
import type { NatContactMode } from '../dialog/nat-flow.ts';
import type { Logger } from '../../util/logger.ts';
import type { ControlServer } from '../control/control-server.ts';
import type { Dialog } from '../dialog/dialog.ts';
import type { DialogLayer } from '../dialog/dialog-layer.ts';
import type { SipMessage } from '../message/sip-message.ts';
import type { TimerSettings } from '../transaction/timer-values.ts';
import type { ClientTransaction, ServerTransaction, TransactionLayer } from '../transaction/transaction-layer.ts';
import type { Sender } from '../transport/transport-layer.ts';
import type { Endpoint, Inbound } from '../transport/transport-types.ts';
import type { SipResolver } from './sip-resolver.ts';

/** A request from the network that an app has been told about and has not finished answering. */
export interface PendingUas {
  txnId: string;
  req: SipMessage;
  inbound: Inbound;
  txn: ServerTransaction;
  ownerId: string;
  /** Our To tag for every response to this request (the app may override it). */
  toTag: string;
  dialog: Dialog | null;
  /** The early dialog a reliable provisional response made (RFC 3262); confirmed by the 2xx. */
  early: Dialog | null;
  /** Dropped after 64 s with no final response, as drachtio does. */
  timer: NodeJS.Timeout | null;
}

/** A request an app sent to the network, still in its client transaction. */
export interface PendingUac {
  txnId: string;
  req: SipMessage;
  txn: ClientTransaction;
  dest: Endpoint;
  ownerId: string;
  /** Set for in-dialog requests, and for an INVITE once its 2xx made a dialog. */
  dialogId: string;
  /** The early dialog a reliable provisional made (RFC 3262 §4); the PRACK goes in it. */
  early: Dialog | null;
  provisionalSeen: boolean;
  /** A CANCEL the app asked for before any provisional response (§9.1), sent on the first one. */
  cancelRequested: SipMessage | null;
  final: boolean;
}

export interface CoreContext {
  log: Logger;
  /** sip.natContact: where in-dialog requests to a peer behind a NAT go (nat-flow.ts). */
  natContact: NatContactMode;
  timers: TimerSettings;
  sender: Sender;
  /** Where a request to a URI goes (RFC 3263: NAPTR, SRV, A/AAAA). */
  resolver: SipResolver;
  txns: TransactionLayer;
  dialogs: DialogLayer;
  control(): ControlServer;
  pendingUas: Map<string, PendingUas>;
  pendingUac: Map<string, PendingUac>;
}

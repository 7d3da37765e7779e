// Owns every transaction and matches messages to them: requests to server transactions by
// branch, sent-by and method (RFC 3261 §17.2.3, with the RFC 2543 fallback), responses to
// client transactions by branch and CSeq method (§17.1.3).
import type { SipMessage } from '../message/sip-message.ts';
import { InviteClientTransaction } from './invite-client-transaction.ts';
import { InviteServerTransaction } from './invite-server-transaction.ts';
import { NonInviteClientTransaction } from './non-invite-client-transaction.ts';
import { NonInviteServerTransaction } from './non-invite-server-transaction.ts';
import type { TimerSettings } from './timer-values.ts';
import type { ClientTxnUser, ServerTxnUser, TxnSend } from './transaction-types.ts';

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

export const MAGIC_COOKIE = 'z9hG4bK';

export class TransactionLayer {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  /** Live server transactions by the address their request came from (sip.maxTransactionsPerSource). */
  private readonly bySource = new Map<string, number>();

  constructor(private readonly timers: TimerSettings) {}

  /**
   * Where a request came from: its packet's source address (stamped on every request from
   * the network), never a Via the sender wrote (a `received` of its own would let it pose as
   * any address).
   */
  static sourceOf(req: SipMessage): string {
    return req.sourceAddress ?? req.topVia.host;
  }

  /** Server transactions alive for requests from `source`. */
  serversFrom(source: string): number {
    return this.bySource.get(source) ?? 0;
  }

  /** The server transaction key; ACK and CANCEL look up the INVITE's with `asMethod`. */
  static serverKey(req: SipMessage, asMethod?: string): string {
    const via = req.topVia;
    const branch = via.params.get('branch') ?? '';
    const method = asMethod ?? (req.method === 'ACK' ? 'INVITE' : req.method ?? '');
    if (branch.startsWith(MAGIC_COOKIE)) return `${branch}|${via.host}:${via.port ?? ''}|${method}`;
    // RFC 2543 peers: match on the dialog-ish fields instead (§17.2.3).
    const cseq = req.cseq;
    return `2543|${req.uri}|${req.from.params.get('tag') ?? ''}|${req.callId}|${cseq.seq}|${via.host}:${via.port ?? ''}|${method}`;
  }

  static clientKey(msg: SipMessage): string {
    const branch = msg.topVia.params.get('branch') ?? '';
    const m = msg.cseq.method;
    return `${branch}|${m === 'ACK' ? 'INVITE' : m}`;
  }

  get serverCount(): number {
    return this.servers.size;
  }
  get clientCount(): number {
    return this.clients.size;
  }

  findServer(req: SipMessage, asMethod?: string): ServerTransaction | undefined {
    return this.servers.get(TransactionLayer.serverKey(req, asMethod));
  }

  findClient(res: SipMessage): ClientTransaction | undefined {
    return this.clients.get(TransactionLayer.clientKey(res));
  }

  createServer(req: SipMessage, send: TxnSend, reliable: boolean, user: ServerTxnUser): ServerTransaction {
    const key = TransactionLayer.serverKey(req);
    const source = TransactionLayer.sourceOf(req);
    this.bySource.set(source, this.serversFrom(source) + 1);
    const entry = new ServerEntry(this.servers, key, user, this.bySource, source);
    const txn: ServerTransaction = req.method === 'INVITE'
      ? new InviteServerTransaction(req, send, reliable, this.timers, entry)
      : new NonInviteServerTransaction(req, send, reliable, this.timers, entry);
    entry.txn = txn;
    this.servers.set(key, txn);
    return txn;
  }

  createClient(req: SipMessage, send: TxnSend, reliable: boolean, user: ClientTxnUser): ClientTransaction {
    const key = TransactionLayer.clientKey(req);
    const entry = new ClientEntry(this.clients, key, user);
    const txn: ClientTransaction = req.method === 'INVITE'
      ? new InviteClientTransaction(req, send, reliable, this.timers, entry)
      : new NonInviteClientTransaction(req, send, reliable, this.timers, entry);
    entry.txn = txn;
    this.clients.set(key, txn);
    txn.start();
    return txn;
  }

  /** Ends every transaction and its timers (server shutdown). */
  close(): void {
    for (const t of [...this.servers.values()]) t.terminate();
    for (const t of [...this.clients.values()]) t.terminate();
    this.servers.clear();
    this.clients.clear();
    this.bySource.clear();
  }
}

// The user a transaction reports to: the TU's, plus forgetting the transaction's key when it
// ends. Classes rather than object literals of arrow functions: these live as long as their
// transaction (up to 64*T1), and tsx (esbuild keepNames) turns each named arrow into a
// defineProperty'd function with its own property store, three per transaction.
class ServerEntry implements ServerTxnUser {
  txn: ServerTransaction | null = null;
  private counted = true;
  constructor(
    private readonly table: Map<string, ServerTransaction>,
    private readonly key: string,
    private readonly user: ServerTxnUser,
    private readonly bySource: Map<string, number>,
    private readonly source: string,
  ) {}
  onTimeout(): void {
    this.user.onTimeout?.();
  }
  onTransportError(e: Error): void {
    this.user.onTransportError?.(e);
  }
  onTerminated(): void {
    if (this.table.get(this.key) === this.txn) this.table.delete(this.key);
    if (this.counted) {
      this.counted = false;
      const n = (this.bySource.get(this.source) ?? 0) - 1;
      if (n > 0) this.bySource.set(this.source, n);
      else this.bySource.delete(this.source);
    }
    this.user.onTerminated();
  }
}

class ClientEntry implements ClientTxnUser {
  txn: ClientTransaction | null = null;
  constructor(
    private readonly table: Map<string, ClientTransaction>,
    private readonly key: string,
    private readonly user: ClientTxnUser,
  ) {}
  onResponse(r: SipMessage): void {
    this.user.onResponse(r);
  }
  onTimeout(): void {
    this.user.onTimeout();
  }
  onTimerC(): void {
    this.user.onTimerC?.();
  }
  onLate2xx(res: SipMessage): void {
    this.user.onLate2xx?.(res);
  }
  onTransportError(e: Error): void {
    this.user.onTransportError(e);
  }
  onTerminated(): void {
    if (this.table.get(this.key) === this.txn) this.table.delete(this.key);
    this.user.onTerminated();
  }
}

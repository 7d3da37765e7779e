// The server's core: parses what the transports receive and dispatches it, and executes the
// commands drachtio-srf apps send on the control port. Nothing thrown here escapes: bad input
// becomes a SIP response, an NOK, or a logged drop.
import type { NatContactMode } from '../dialog/nat-flow.ts';
import type { Logger } from '../../util/logger.ts';
import type { ControlConnection, ControlMessage } from '../control/control-connection.ts';
import type { ControlCommands, ControlServer } from '../control/control-server.ts';
import { DialogLayer } from '../dialog/dialog-layer.ts';
import { ParseError, parseMessage } from '../message/parse-message.ts';
import type { SipMessage } from '../message/sip-message.ts';
import type { TimerSettings } from '../transaction/timer-values.ts';
import { TransactionLayer } from '../transaction/transaction-layer.ts';
import type { Sender, ListeningPoint } from '../transport/transport-layer.ts';
import { isStream, type Inbound } from '../transport/transport-types.ts';
import { AppRequestHandler } from './app-request-handler.ts';
import { AppResponseHandler } from './app-response-handler.ts';
import type { CoreContext } from './core-context.ts';
import { SessionRefresher } from './session-refresher.ts';
import { Unwanted2xx } from './unwanted-2xx.ts';
import { DialogTerminator } from './dialog-terminator.ts';
import { ErrorResponder } from './error-responder.ts';
import { dialogDestination, formatHostPortForControl, looksLikeSip, makeResponse, reasonPhrase, stampReceived } from './message-factory.ts';
import { Dialog } from '../dialog/dialog.ts';
import { NetworkRequestHandler } from './network-request-handler.ts';
import { checkResponse } from './target-check.ts';
import { inconsistentSips, insecureSips } from './sips-hop.ts';
import type { ProxyHandler } from './proxy-handler.ts';
import { DEFAULT_RESOLVER, SipResolver, type SipResolverOptions } from './sip-resolver.ts';

export interface SipCoreOptions {
  log: Logger;
  timers: TimerSettings;
  sender: Sender;
  listeningPoints: () => ListeningPoint[];
  /** sip.maxTransactionsPerSource (0: no limit). */
  maxTransactionsPerSource?: number;
  /** sip.natContact (default auto). */
  natContact?: NatContactMode;
  /** sip.dns (default: the system's servers, NAPTR and SRV on). */
  dns?: Omit<SipResolverOptions, 'log' | 'supports'>;
}

/** How long a source refused past sip.maxTransactionsPerSource is asked to wait (Retry-After, s). */
const SOURCE_RETRY_AFTER_SEC = 5;
const SOURCE_LOG_EVERY_MS = 5000;

export class SipCore implements ControlCommands {
  readonly ctx: CoreContext;
  private controlServer: ControlServer | null = null;
  private readonly errors: ErrorResponder;
  private readonly networkRequests: NetworkRequestHandler;
  private readonly appResponses: AppResponseHandler;
  private readonly appRequests: AppRequestHandler;
  private readonly unwanted: Unwanted2xx;
  private proxy: ProxyHandler | null = null;
  private closed = false;
  /** Requests refused statelessly past sip.maxTransactionsPerSource. */
  refusedOverSourceLimit = 0;
  private sourceLimitLoggedAt = -Infinity;

  constructor(private readonly opts: SipCoreOptions) {
    this.ctx = {
      log: opts.log,
      natContact: opts.natContact ?? 'auto',
      timers: opts.timers,
      sender: opts.sender,
      resolver: new SipResolver({
        ...(opts.dns ?? DEFAULT_RESOLVER),
        log: opts.log,
        supports: (t) => opts.listeningPoints().some((lp) => lp.transport === t),
      }),
      txns: new TransactionLayer(opts.timers),
      dialogs: new DialogLayer(),
      control: () => {
        if (!this.controlServer) throw new Error('control server not attached');
        return this.controlServer;
      },
      pendingUas: new Map(),
      pendingUac: new Map(),
    };
    this.errors = new ErrorResponder(opts.sender, this.ctx.txns, opts.log);
    const terminator = new DialogTerminator(this.ctx);
    this.networkRequests = new NetworkRequestHandler(this.ctx, this.errors, terminator);
    const sessions = new SessionRefresher(this.ctx, terminator);
    this.appResponses = new AppResponseHandler(this.ctx, this.networkRequests, terminator, sessions);
    this.unwanted = new Unwanted2xx(this.ctx);
    this.appRequests = new AppRequestHandler(this.ctx, sessions, this.unwanted);
  }

  attachControl(cs: ControlServer): void {
    this.controlServer = cs;
  }

  attachProxy(p: ProxyHandler): void {
    this.proxy = p;
  }

  /** Everything the transports receive comes through here. */
  onInbound(inbound: Inbound): void {
    if (this.closed) return;
    // A datagram of blank lines is a keep-alive (linphone and other belle-sip phones send
    // CRLFCRLF over UDP every 30 s, RFC 5626 §3.5.1's ping): nothing to parse, answer or log.
    if (isBlankLines(inbound.data)) return;
    let msg: SipMessage;
    try {
      msg = parseMessage(inbound.data, { stream: isStream(inbound.source.transport) });
    } catch (err) {
      // A stream's oversized message comes as its header block alone, whose Content-Length
      // then reads as a lie: the answer is still 513.
      const tooBig = inbound.oversized && err instanceof ParseError && err.partial;
      this.onParseError(inbound, tooBig ? new ParseError('message exceeds sip.maxMessageSize', err.partial, 513) : err);
      return;
    }
    if (inbound.oversized) {
      this.onParseError(inbound, new ParseError('message exceeds sip.maxMessageSize', msg, 513));
      return;
    }
    if (inbound.unframed) {
      this.onParseError(inbound, new ParseError(inbound.unframed, msg));
      return;
    }
    try {
      if (msg.isRequest) {
        try {
          stampReceived(msg, inbound);
        } catch (err) {
          this.onParseError(inbound, new ParseError((err as Error).message, msg)); // a top Via we cannot read
          return;
        }
        if (this.overSourceLimit(inbound, msg)) return;
        if (this.refuseInsecureSips(inbound, msg)) return;
        if (this.proxyTakes(inbound, msg)) return;
        // An app's parser (drachtio-srf's) reads CRLF only: bare LF line ends are rewritten.
        this.networkRequests.handle(inbound, msg, msg.bareLf ? msg.toString() : inbound.data.toString('utf8'));
      } else {
        this.onResponse(msg);
      }
    } catch (err) {
      this.ctx.log.warn({ err, from: inbound.source }, 'inbound message dropped');
    }
  }

  /**
   * A source holding sip.maxTransactionsPerSource server transactions gets a stateless 503
   * with Retry-After for any new request (RFC 3261 §21.5.4; no transaction, so nothing is
   * kept for it). Over UDP each non-INVITE transaction lives 64*T1 (32 s, Timer J) after its
   * answer, about 3 KB each: a flood of requests with new branches from one address grew the
   * table, and the memory, by the flood's rate times 32 s. ACKs and retransmissions of a
   * request with a transaction still pass. The 503 goes to the packet's source.
   */
  private overSourceLimit(inbound: Inbound, req: SipMessage): boolean {
    const max = this.opts.maxTransactionsPerSource ?? 0;
    if (max <= 0 || req.method === 'ACK') return false;
    const txns = this.ctx.txns;
    const source = TransactionLayer.sourceOf(req);
    if (txns.serversFrom(source) < max || txns.findServer(req)) return false;
    this.refusedOverSourceLimit++;
    const now = performance.now();
    if (now - this.sourceLimitLoggedAt >= SOURCE_LOG_EVERY_MS) {
      this.sourceLimitLoggedAt = now;
      this.ctx.log.warn({ source, maxTransactionsPerSource: max, refused: this.refusedOverSourceLimit }, 'sip.maxTransactionsPerSource reached: request refused with 503');
    }
    const res = makeResponse(req, 503, 'Service Unavailable', Dialog.newTag());
    res.add('Retry-After', String(SOURCE_RETRY_AFTER_SEC));
    res.add('Warning', `399 parley "too many transactions from this source (sip.maxTransactionsPerSource ${max})"`);
    // To the packet's source, as onParseError does: a flood's Via may name a third party.
    try {
      this.ctx.sender.send(inbound.source, res.toBuffer(), inbound.connectionId);
    } catch (err) {
      this.ctx.log.debug({ err, source }, '503 over the source limit not sent');
    }
    return true;
  }

  /**
   * A sips: Request-URI that came over UDP or TCP, or that names a dialog's Contact as sip:, is
   * refused here, before it is answered or proxied (sips-hop.ts). Its retransmissions go to the
   * transaction of the refusal; its ACK is let through to that transaction (§17.2.1), which absorbs it.
   */
  private refuseInsecureSips(inbound: Inbound, req: SipMessage): boolean {
    if (req.method === 'ACK') return false;
    const refusal = insecureSips(req, inbound.source.transport) ?? inconsistentSips(req);
    if (!refusal) return false;
    let txn: ReturnType<TransactionLayer['findServer']>;
    try {
      txn = this.ctx.txns.findServer(req);
    } catch {
      txn = undefined;
    }
    if (txn) txn.receiveRetransmission();
    else this.errors.respond(inbound, req, refusal);
    return true;
  }

  /** The proxy reads To and Route: when those are malformed the request still gets its 400. */
  private proxyTakes(inbound: Inbound, req: SipMessage): boolean {
    try {
      return this.proxy?.handleRequest(inbound, req) ?? false;
    } catch (err) {
      this.errors.respond(inbound, req, err);
      return true;
    }
  }

  /**
   * A request we could not parse is answered (400, 416, 505, 513) when its request line was
   * readable and the rest is recognisably SIP: a Via, or two of From, To, Call-ID and CSeq
   * (a request whose Via lost its colon still gets its 400; `HELLO WORLD` and binary junk do
   * not). Never an ACK (§17.1.1.3), by its method or its CSeq. The answer copies what could be
   * read (§8.2.6.2: no Via if none could) and goes to the packet's source, not to its Via:
   * §18.2.2 trusts a Via we could not read, and a forged one would aim our answer at a third
   * party. The source is where RFC 3581 (received/rport) sends it too, and on TCP it is the
   * connection the request came on.
   */
  private onParseError(inbound: Inbound, err: unknown): void {
    const partial = err instanceof ParseError ? err.partial : null;
    if (partial?.isRequest && !isAck(partial) && looksLikeSip(partial)) {
      const status = err instanceof ParseError ? err.status : 400;
      const res = makeResponse(partial, status, reasonPhrase(status), 'x' + Date.now().toString(36));
      res.add('Reason', `SIP ;cause=${status} ;text="${(err as Error).message.replace(/[^ -~\u00a0-\uffff]|["\\]/g, ' ').slice(0, 100)}"`);
      try {
        this.ctx.sender.send(inbound.source, res.toBuffer(), inbound.connectionId);
      } catch (sendErr) {
        this.ctx.log.debug({ err: sendErr }, 'answer to an unparseable request not sent');
      }
      return;
    }
    this.ctx.log.info({ from: inbound.source, reason: (err as Error).message }, 'unparseable message dropped');
  }

  private onResponse(res: SipMessage): void {
    try {
      checkResponse(res);
    } catch (err) {
      // Dropped before any transaction moves: it ends by its timers (B, F) as if nothing came.
      this.ctx.log.info({ status: res.status, callId: res.get('Call-ID'), reason: (err as Error).message }, 'malformed response dropped');
      return;
    }
    const txn = this.ctx.txns.findClient(res);
    if (txn) {
      txn.receiveResponse(res);
      return;
    }
    if (this.proxy?.handleStrayResponse(res)) return;
    // §13.2.2.4: a 2xx retransmitted after the transaction ended still gets our ACK again.
    if (res.status >= 200 && res.status < 300 && res.cseq.method === 'INVITE') {
      const d = this.ctx.dialogs.match(res.callId, res.from.params.get('tag') ?? '', res.to.params.get('tag') ?? '');
      if (d?.lastAck && d.lastClientInviteSeq === res.cseq.seq) {
        this.resendAck(d.lastAck, d).catch(() => undefined);
        return;
      }
      if (!d && this.unwanted.stray(res)) return;
    }
    this.ctx.log.debug({ status: res.status }, 'stray response dropped');
  }

  private async resendAck(ack: SipMessage, d: Dialog): Promise<void> {
    try {
      const dest = await dialogDestination(d, this.ctx.resolver);
      this.ctx.sender.send(dest, ack.toBuffer(), d.connectionId);
    } catch (err) {
      this.ctx.log.debug({ err }, 'ACK re-send failed');
    }
  }

  command(conn: ControlConnection, msg: ControlMessage): void {
    const t = msg.tokens;
    let sip: SipMessage;
    try {
      sip = parseMessage(Buffer.from(msg.body, 'utf8'), { uriHeaders: true });
    } catch (err) {
      const why = `unparseable SIP message: ${(err as Error).message}`;
      // A response the app meant to send still ends its transaction at once (a 500).
      const status = /^SIP\/2\.0 (\d{3})/.exec(msg.body);
      if (msg.body.startsWith('SIP/2.0') && t[1] !== 'proxy') this.appResponses.unusable(conn, msg.rid, t[2] ?? '', status ? Number(status[1]) : null, why);
      else conn.reply(msg.rid, `NOK|${why.replace(/[|\r\n]/g, ' ')}`);
      return;
    }
    if (t[1] === 'proxy') {
      if (!this.proxy) return conn.reply(msg.rid, 'NOK|proxy not supported');
      this.proxy.command(conn, msg, sip);
      return;
    }
    const txnId = t[2] ?? '';
    const dialogId = t[3] ?? '';
    if (!sip.isRequest) {
      try {
        this.appResponses.handle(conn, msg.rid, txnId, sip);
      } catch (err) {
        this.appResponses.unusable(conn, msg.rid, txnId, sip.status, (err as Error).message);
      }
      return;
    }
    this.appRequests.handle(conn, msg.rid, txnId, dialogId, t[4] ?? '', sip).catch((err: unknown) => {
      this.ctx.log.warn({ err, method: sip.method }, 'app request failed');
      conn.reply(msg.rid, `NOK|${(err as Error).message.replace(/[|\r\n]/g, ' ')}`);
    });
  }

  hostports(): string {
    return this.opts.listeningPoints().map((lp) => `${lp.transport}/${formatHostPortForControl(lp.host, lp.port)}`).join(',');
  }

  connectionClosed(conn: ControlConnection): void {
    if (this.closed) return;
    this.networkRequests.ownerGone(conn.id);
    // Dialogs of a vanished app cannot be driven any more; forget them rather than leak them.
    const orphans = this.ctx.dialogs.all().filter((d) => d.ownerId === conn.id);
    for (const d of orphans) this.ctx.dialogs.remove(d);
    if (orphans.length) this.ctx.log.warn({ conn: conn.id, dialogs: orphans.length }, 'app disconnected, its dialogs dropped');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.proxy?.close();
    this.networkRequests.clear();
    this.ctx.dialogs.close();
    this.ctx.txns.close();
    this.ctx.pendingUac.clear();
    this.unwanted.close();
  }
}

/** Only CR, LF and spaces (a keep-alive), and not empty. */
function isBlankLines(data: Buffer): boolean {
  if (data.length === 0) return false;
  for (const b of data) if (b !== 0x0d && b !== 0x0a && b !== 0x20) return false;
  return true;
}

/** An ACK, or what was one before a byte of its method was lost (its CSeq still says so). */
function isAck(req: SipMessage): boolean {
  return req.method === 'ACK' || /^\s*\d+\s+ACK\s*$/i.test(req.get('CSeq') ?? '');
}

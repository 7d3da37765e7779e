// The one place where failures become SIP responses: a SipError thrown while handling a
// request is answered with its status and a Reason header (RFC 3326), inside a server
// transaction when one can be made so retransmissions get the same answer.
import type { Logger } from '../../util/logger.ts';
import { Dialog } from '../dialog/dialog.ts';
import { SipError } from '../message/sip-error.ts';
import type { SipMessage } from '../message/sip-message.ts';
import type { TransactionLayer } from '../transaction/transaction-layer.ts';
import type { Sender } from '../transport/transport-layer.ts';
import { isStream, type Inbound } from '../transport/transport-types.ts';
import { looksLikeSip, makeResponse, responseDestination } from './message-factory.ts';

export class ErrorResponder {
  constructor(
    private readonly sender: Sender,
    private readonly txns: TransactionLayer,
    private readonly log: Logger,
  ) {}

  /** Answers `req` with the error's status; ACKs are never answered (§17.2.1). */
  respond(inbound: Inbound, req: SipMessage, err: unknown, extraHeaders: Array<[string, string]> = []): void {
    const e = err instanceof SipError ? err : new SipError(500, 'Server Internal Error', (err as Error)?.message);
    if (!(err instanceof SipError)) this.log.error({ err }, 'request handling failed');
    if (req.method === 'ACK') {
      this.log.debug({ status: e.status, detail: e.message }, 'bad ACK dropped');
      return;
    }
    if (!looksLikeSip(req)) {
      this.log.info({ status: e.status, detail: e.message }, 'request without Via nor enough SIP headers to answer, dropped');
      return;
    }
    let res: SipMessage;
    let target: ReturnType<typeof responseDestination>;
    try {
      res = makeResponse(req, e.status, e.reason, Dialog.newTag());
      target = responseDestination(req, inbound);
    } catch (inner) {
      this.log.info({ err: inner, status: e.status }, 'cannot answer malformed request, dropped');
      return;
    }
    const text = e.message.replace(/["\r\n\\]/g, ' ').slice(0, 120);
    res.add('Reason', `SIP ;cause=${e.status} ;text="${text}"`);
    // A 422 carries Min-SE (RFC 4028 §6): the caller passes it in extraHeaders with the
    // configured value, so it is written once.
    for (const [n, v] of extraHeaders) res.add(n, v);
    const send = (m: SipMessage) => {
      this.sender.send(target.dest, m.toBuffer(), target.connectionId);
    };
    let txn: ReturnType<TransactionLayer['createServer']> | null = null;
    try {
      if (req.has('Via') && req.has('CSeq') && req.has('Call-ID') && req.has('From') && !this.txns.findServer(req)) {
        txn = this.txns.createServer(req, send, isStream(inbound.source.transport), { onTerminated: () => undefined });
      }
    } catch (inner) {
      // The headers a transaction is keyed on are what is wrong: answer once, statelessly.
      this.log.debug({ err: inner }, 'no transaction for this error response');
    }
    try {
      if (txn) txn.respond(res);
      else send(res);
    } catch (inner) {
      this.log.warn({ err: inner }, 'error response could not be sent');
    }
  }
}

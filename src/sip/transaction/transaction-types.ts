// What transactions need from below (a bound sender) and tell above (the TU callbacks).
import type { SipMessage } from '../message/sip-message.ts';

/** Sends one message to the transaction's peer; throws on a transport failure. */
export type TxnSend = (msg: SipMessage) => void;

export interface ClientTxnUser {
  onResponse(res: SipMessage): void;
  /** Timer B or F fired: the TU answers itself with a 408 (RFC 3261 §8.1.3.1). */
  onTimeout(): void;
  /** The transport failed: the TU treats it as a 503 (§8.1.3.1). */
  onTransportError(err: Error): void;
  onTerminated(): void;
}

export interface ServerTxnUser {
  /** Timer H fired with no ACK for a non-2xx final response (§17.2.1). */
  onTimeout?(): void;
  onTransportError?(err: Error): void;
  onTerminated(): void;
}

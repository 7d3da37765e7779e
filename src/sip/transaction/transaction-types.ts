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
  /**
   * INVITE only: timer C fired in Proceeding (RFC 3261 §16.6 step 11, §16.8): the TU sends its
   * CANCEL. onTimeout follows when no final response comes within 64*T1.
   */
  onTimerC?(): void;
  /**
   * INVITE only: a 2xx in Completed, after a non-2xx final response (another fork's answer, RFC
   * 3261 §13.2.2.4): not the transaction's (§17.1.1.2 absorbs only retransmissions of its final
   * response); the TU's core ACKs and BYEs it. Without it the 2xx is dropped (a proxy's branch).
   */
  onLate2xx?(res: SipMessage): void;
}

export interface ServerTxnUser {
  /** Timer H fired with no ACK for a non-2xx final response (§17.2.1). */
  onTimeout?(): void;
  onTransportError?(err: Error): void;
  onTerminated(): void;
}

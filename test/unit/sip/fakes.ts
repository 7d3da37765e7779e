// Fakes for transaction unit tests: a transport that records what is sent, and messages.
import { parseMessage } from '../../../src/sip/message/parse-message.ts';
import type { SipMessage } from '../../../src/sip/message/sip-message.ts';
import type { ClientTxnUser, ServerTxnUser } from '../../../src/sip/transaction/transaction-types.ts';

export const TIMERS = { t1: 500, t2: 4000, t4: 5000 };

export class FakeTransport {
  sent: SipMessage[] = [];
  fail = false;
  send = (m: SipMessage): void => {
    if (this.fail) throw new Error('transport down');
    this.sent.push(m);
  };
  count(pred: (m: SipMessage) => boolean = () => true): number {
    return this.sent.filter(pred).length;
  }
}

export class RecordingUser implements ClientTxnUser, ServerTxnUser {
  responses: SipMessage[] = [];
  timeouts = 0;
  transportErrors = 0;
  terminated = 0;
  timerC = 0;
  onTimerC(): void {
    this.timerC++;
  }
  onResponse(r: SipMessage): void {
    this.responses.push(r);
  }
  onTimeout(): void {
    this.timeouts++;
  }
  onTransportError(): void {
    this.transportErrors++;
  }
  onTerminated(): void {
    this.terminated++;
  }
}

export function msg(text: string): SipMessage {
  return parseMessage(Buffer.from(text.replace(/\r?\n/g, '\r\n')));
}

export function invite(branch = 'z9hG4bKabc', extra = ''): SipMessage {
  return msg(`INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=${branch}
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: c1@10.0.0.1
CSeq: 1 INVITE
Contact: <sip:alice@10.0.0.1>
${extra}Content-Length: 0

`);
}

export function nonInvite(method = 'OPTIONS', branch = 'z9hG4bKdef'): SipMessage {
  return msg(`${method} sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=${branch}
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: c2@10.0.0.1
CSeq: 7 ${method}
Content-Length: 0

`);
}

export function response(req: SipMessage, status: number, toTag = 'b1'): SipMessage {
  const via = req.getAll('Via').map((v) => `Via: ${v}`).join('\n');
  return msg(`SIP/2.0 ${status} X
${via}
From: ${req.get('From')}
To: ${req.get('To')}${status > 100 ? `;tag=${toTag}` : ''}
Call-ID: ${req.get('Call-ID')}
CSeq: ${req.get('CSeq')}
Content-Length: 0

`);
}

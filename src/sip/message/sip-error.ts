// A failure that has a SIP answer. Thrown anywhere in the server core and turned into a
// response in one place (core/error-responder.ts) with a Reason header.

export class SipError extends Error {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, detail?: string) {
    super(detail ? `${status} ${reason}: ${detail}` : `${status} ${reason}`);
    this.name = 'SipError';
    this.status = status;
    this.reason = reason;
  }
}

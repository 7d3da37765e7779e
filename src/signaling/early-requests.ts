// Requests in early dialogs that drachtio-srf holds no Dialog for. RFC 3261 §12.1: a 1xx with
// a To tag makes an early dialog on both sides, and a peer may send INFO in it (RFC 6086 §4.2:
// DTMF while early media plays) before the 2xx. drachtio-srf makes its Dialog only at the 2xx,
// so such a request reaches the router like a new one (the SIP server matched its tags to the
// early dialog before passing it on). Whoever placed or relays the INVITE registers the Call-ID
// of that leg here while its INVITE is pending; the router asks here first.
import type Srf from 'drachtio-srf';

/** Takes an early-dialog request of its leg; false leaves it to the router (481). */
export type EarlyRequestHandler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => boolean;

/** Registers a leg's early-dialog handler by Call-ID; the returned function removes it. */
export interface EarlyRequestRegistry {
  add(callId: string, handler: EarlyRequestHandler): () => void;
}

export class EarlyRequests implements EarlyRequestRegistry {
  private readonly byCallId = new Map<string, EarlyRequestHandler>();

  add(callId: string, handler: EarlyRequestHandler): () => void {
    this.byCallId.set(callId, handler);
    return () => {
      if (this.byCallId.get(callId) === handler) this.byCallId.delete(callId);
    };
  }

  /** Gives `req` to the handler of its Call-ID; true when one took it. */
  take(req: Srf.SrfRequest, res: Srf.SrfResponse): boolean {
    const handler = this.byCallId.get(req.get('Call-ID') ?? '');
    return handler ? handler(req, res) : false;
  }
}

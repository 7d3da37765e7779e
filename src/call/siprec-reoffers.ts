// A SIPREC session's in-dialog offers (re-INVITE, UPDATE) as SIP transactions: one at a
// time (another gets 500 + Retry-After: RFC 3261 §14.2, RFC 3311 §5.2), 491 while our own
// offer in an offerless re-INVITE's 200 awaits its answer in the ACK, 400/415 for a body
// that cannot be read, 488 for an offer that cannot be taken. What an update changes in
// the session (streams, metadata, pauses, the recording) is SiprecCall's.
import type Srf from 'drachtio-srf';
import { SdpNegotiationError } from '../media-plane/media-errors.ts';
import { readSiprecBody, SiprecBodyError, type SiprecBody } from '../siprec/siprec-body.ts';
import type { Logger } from '../util/logger.ts';
import { cseqNumber } from './dialog-util.ts';
import type { StreamChange } from './siprec-streams.ts';

export type ReofferMethod = 'INVITE' | 'UPDATE';

/** A Warning header value (RFC 3261 §20.43) for a SIPREC session's error answers. */
export function siprecWarning(code: number, text: string): string {
  return `${code} parley "${[...text.slice(0, 80)].map((c) => (c === '"' || c === '\\' || c < ' ' ? ' ' : c)).join('')}"`;
}

/** What the session does with an update SiprecReoffers lets through. */
export interface ReofferedSession {
  /** Whether the update is taken at all: false when its metadata is over budget (then `res` is answered). */
  admitUpdate(method: ReofferMethod, body: SiprecBody, res: Srf.SrfResponse): boolean;
  /** Applies the update's offer (none: null) to the streams: what paused or resumed. */
  takeOffer(sdp: string | null): Promise<StreamChange[]>;
  /** The offer is taken: the update's metadata and pauses are applied; our SDP for the 200 (null: none). */
  updated(method: ReofferMethod, body: SiprecBody, changes: StreamChange[]): string | null;
}

export class SiprecReoffers {
  /** An offer is being taken: another one now gets 500 + Retry-After (RFC 3261 §14.2, RFC 3311 §5.2). */
  private offerInProgress = false;
  /**
   * The CSeq of our last offerless re-INVITE's 200 (our offer) whose ACK (the answer) has not
   * come: until it does, a new offer or an offerless re-INVITE gets 491 (RFC 3261 §14.2, RFC
   * 3311 §5.2). The embedded SIP server answers such a re-INVITE 491 itself; a real
   * drachtio-server hands it to the app.
   */
  private unackedOffer: number | null = null;
  /** Gives up waiting for that ACK (cleared by it, or when the dialog ends). */
  private ackTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly session: ReofferedSession,
    private readonly log: Logger,
    /** How long an offer in a 200 waits for its ACK before later offers are taken again. */
    private readonly ackWaitMs: number,
  ) {}

  /** Takes the dialog's re-INVITEs, UPDATEs and ACKs: call it as drachtio-srf makes the dialog (createUas). */
  listen(d: Srf.Dialog): void {
    d.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.unlessOfferPending('INVITE', req, res));
    d.on('update', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.unlessOfferPending('UPDATE', req, res));
    d.on('ack', (ack: Srf.SrfRequest) => {
      if (cseqNumber(ack) === this.unackedOffer) this.stopWaitingForAck();
    });
  }

  /** The session ended: no wait for an ACK outlives it. Idempotent. */
  close(): void {
    this.stopWaitingForAck();
  }

  private stopWaitingForAck(): void {
    this.unackedOffer = null;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  /**
   * A re-INVITE, or an UPDATE with a body, while our offer in an offerless re-INVITE's 200
   * awaits its answer (the ACK) gets 491; drachtio-srf emits 'ack' a turn after the request
   * events, so an ACK that came just before is given that turn first.
   */
  private unlessOfferPending(method: ReofferMethod, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const glare = (): boolean => this.unackedOffer !== null && (method === 'INVITE' || (req.body ?? '').trim() !== '');
    if (!glare()) return this.onRequest(method, req, res);
    setImmediate(() =>
      setImmediate(() => {
        if (!glare()) return this.onRequest(method, req, res);
        this.log.info({ method }, 'siprec: offer while our offer awaits its answer in an ACK: 491');
        res.send(491);
      }),
    );
  }

  /** A re-INVITE or UPDATE: a new offer (pause, resume, streams), new metadata, or a session refresh. */
  private onRequest(method: ReofferMethod, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    if (this.offerInProgress) {
      res.send(500, { headers: { 'Retry-After': '1' } });
      return;
    }
    let body: SiprecBody;
    try {
      body = readSiprecBody(req.get('Content-Type'), req.body);
    } catch (err) {
      const status = err instanceof SiprecBodyError ? err.status : 400;
      this.log.warn({ method, err: (err as Error).message }, 'siprec: in-dialog body refused');
      res.send(status, { headers: { Warning: siprecWarning(399, (err as Error).message) } });
      return;
    }
    if (!this.session.admitUpdate(method, body, res)) return;
    this.offerInProgress = true;
    this.session
      .takeOffer(body.sdp)
      .then((changes) => {
        const sdp = this.session.updated(method, body, changes);
        if (method === 'INVITE' && body.sdp === null) {
          // An ACK that never comes (a real drachtio-server runs no timer H on a re-INVITE's 2xx)
          // does not block the session's later offers for good.
          this.stopWaitingForAck();
          this.unackedOffer = cseqNumber(req);
          this.ackTimer = setTimeout(() => this.stopWaitingForAck(), this.ackWaitMs);
          this.ackTimer.unref();
        }
        res.send(200, sdp ? { body: sdp, headers: { 'Content-Type': 'application/sdp' } } : {});
        this.log.info({ method, sdp: body.sdp !== null, metadata: body.metadata !== null, changes }, 'siprec: session updated');
      })
      .catch((err: unknown) => {
        this.log.warn({ method, err }, 'siprec: re-offer refused');
        if (err instanceof SdpNegotiationError) res.send(488, { headers: { Warning: siprecWarning(err.warning, err.message) } });
        else res.send(500);
      })
      .finally(() => (this.offerInProgress = false));
  }
}

// The two dialogs of a signalling-only B2BUA (the header-edit relay): what one receives
// goes to the other (re-INVITE, INFO, REFER and the NOTIFYs of its subscription), either
// ending ends both. An offerless re-INVITE
// (RFC 3261 §14.2, a PBX's 3pcc transfer) is relayed as one: the other side's offer comes
// back in our 200 and the answer in this side's ACK goes on in the ACK of the other
// side's 200, which drachtio-srf holds (with noAck) until we give it, and with it every
// later re-INVITE of that dialog.
import type Srf from 'drachtio-srf';
import type { Logger } from '../util/logger.ts';

/** What drachtio-srf's Dialog.modify resolves to for an offerless re-INVITE with noAck: the offer, and the ACK to send the answer in. */
interface ThreePccAnswer {
  sdp: string;
  ack: (sdp: string) => void;
}

/** The words of drachtio-server's and the embedded server's timer H BYE (src/call/dialog-util.ts has the same). */
const ACK_TIMEOUT_REASON = 'SIP ;cause=200 ;text="ACK timeout"';

/**
 * An answer that accepts nothing of `offer`: every m-line refused with port 0 (RFC 3264
 * §6). A 2xx carrying an offer must be ACKed with a valid answer even by a UAC about to
 * end the dialog (RFC 3261 §13.2.2.4).
 */
export function refusingAnswer(offer: string): string {
  const lines = offer.split(/\r?\n/).filter((l) => l !== '');
  return lines.map((l) => l.replace(/^m=(\S+) \d+(\/\d+)? /, 'm=$1 0 ')).join('\r\n') + '\r\n';
}

/**
 * The Reason of a BYE the SIP server sent on its own (drachtio's `unsolicited`: no ACK for
 * a 2xx within 64*T1, RFC 3261 §13.3.1.4, and the like), or null for the peer's own BYE.
 * (src/call/dialog-util.ts has the same test for calls; signaling does not import call.)
 */
function serverByeReason(bye: Srf.SrfRequest | undefined): string | null {
  if (!bye || bye.method !== 'BYE' || (bye as unknown as { source?: string }).source !== 'application') return null;
  return bye.get('Reason') ?? null;
}

/** What a relayed REFER carries on (RFC 3515 §2.1, RFC 3892 Referred-By, RFC 4488 Refer-Sub). */
const REFER_HEADERS = ['Refer-To', 'Referred-By', 'Refer-Sub', 'Require'] as const;
/** referSeqs' key for a REFER whose own CSeq is not known yet. */
const LATEST = -1;
/** What a relayed NOTIFY carries on (RFC 6665 §8.2, RFC 3515 §2.4.5). */
const NOTIFY_HEADERS = ['Event', 'Subscription-State', 'Content-Type'] as const;

function cseqNumber(req: Srf.SrfRequest): number {
  return Number(/^\s*(\d+)/.exec(req.get('CSeq') ?? '')?.[1] ?? NaN);
}

export class DialogPair {
  private over = false;
  /** Per dialog: the other side's 2xx to an offerless re-INVITE it sent, still waiting for this side's answer. */
  private readonly unanswered = new Map<Srf.Dialog, ThreePccAnswer>();
  /** Per dialog: its wait for the ACK of our 200 to its offerless re-INVITE. */
  private readonly ackTimers = new Map<Srf.Dialog, NodeJS.Timeout>();
  /** Per dialog: the REFERs relayed into it (see referSeqs). */
  private readonly refers = new Map<Srf.Dialog, Map<number, number>>();

  /** `ackWaitMs`: how long a side's ACK (with its answer) may take before both sides are ended (src/call/dialog-util.ts ackWaitMs). */
  constructor(
    private readonly a: Srf.Dialog,
    private readonly b: Srf.Dialog,
    private readonly log: Logger,
    private readonly ackWaitMs: number,
  ) {
    this.bind(a, b);
    this.bind(b, a);
  }

  /**
   * Ends both sides once. `gone`: the side that is gone already (its BYE came, or the server
   * ended it); the other gets a BYE with `reason`. A 2xx of the other side's still waiting
   * for the answer the gone side never sent is first ACKed with an answer refusing its offer.
   */
  private end(gone: Srf.Dialog | null, reason: string | null): void {
    if (this.over) return;
    this.over = true;
    for (const t of this.ackTimers.values()) clearTimeout(t);
    this.ackTimers.clear();
    this.refers.clear();
    for (const [from, pending] of this.unanswered) {
      this.log.info('the re-INVITE\'s originator left without the answer: the other side\'s offer is refused in its ACK');
      pending.ack(refusingAnswer(pending.sdp));
      this.unanswered.delete(from);
    }
    for (const d of [this.a, this.b]) {
      if (d === gone) continue;
      const done = (err: unknown): void => {
        if (err) this.log.debug({ err }, 'relayed BYE not sent (the dialog was gone)');
      };
      if (reason) d.destroy({ headers: { Reason: reason } }, done);
      else d.destroy(undefined, done);
    }
  }

  private bind(from: Srf.Dialog, to: Srf.Dialog): void {
    // A BYE the SIP server sent itself ends the other side with the same Reason.
    from.on('destroy', (bye?: Srf.SrfRequest) => this.end(from, serverByeReason(bye)));
    from.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.relayReinvite(from, to, req, res));
    from.on('refer', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.relayRefer(from, to, req, res));
    from.on('notify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.relayNotify(from, to, req, res));
    from.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      const type = req.get('Content-Type');
      to.request({ method: 'INFO', headers: type ? { 'Content-Type': type } : {}, body: req.body } as unknown as Srf.SrfRequest).then(
        (r) => res.send(r.status),
        (err: unknown) => {
          this.log.info({ err }, 'relayed INFO failed');
          res.send(500);
        },
      );
    });
  }

  /**
   * A transfer (RFC 3515): the REFER goes on in the other dialog with its Refer-To as sent
   * (a header-edit rule edits the INVITE, not the requests in its dialog; a Replaces in it
   * names a dialog of the transferor's, which only the target knows), and the answer comes
   * back. The implicit subscription lives in both dialogs; its NOTIFYs come back through
   * relayNotify. Target-Dialog (RFC 4538) names this side's dialog and is not passed on.
   */
  private relayRefer(from: Srf.Dialog, to: Srf.Dialog, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const headers: Record<string, string> = {};
    for (const name of REFER_HEADERS) {
      const v = req.get(name);
      if (v !== undefined) headers[name] = v;
    }
    const fromSeq = cseqNumber(req);
    // The NOTIFYs name the REFER by the CSeq it had on their side (RFC 3515 §2.4.6): until ours is known, the latest.
    this.referSeqs(to).set(LATEST, fromSeq);
    this.log.info({ referTo: headers['Refer-To'] }, 'REFER relayed');
    to.request({ method: 'REFER', headers } as unknown as Srf.SrfRequest).then(
      (r) => {
        const seq = Number(/^\s*(\d+)/.exec(r.get('CSeq') ?? '')?.[1] ?? NaN);
        if (!Number.isNaN(seq)) this.referSeqs(to).set(seq, fromSeq);
        const back: Record<string, string> = {};
        const referSub = r.get('Refer-Sub');
        if (referSub) back['Refer-Sub'] = referSub;
        res.send(r.status, { headers: back });
      },
      (err: unknown) => {
        this.log.info({ err }, 'relayed REFER failed');
        res.send(500);
      },
    );
  }

  /** Per dialog: the CSeq of each REFER we sent in it → the CSeq of the REFER it relays (LATEST: the last one). */
  private referSeqs(d: Srf.Dialog): Map<number, number> {
    let m = this.refers.get(d);
    if (!m) {
      m = new Map();
      this.refers.set(d, m);
    }
    return m;
  }

  /**
   * A NOTIFY in `from` (a REFER's progress, RFC 3515 §2.4.4: message/sipfrag) goes on in the
   * other dialog, where the REFER came from, its Event id (the REFER's CSeq) mapped to the
   * REFER there. A NOTIFY for no REFER we relayed (another event package) is passed on as it is.
   */
  private relayNotify(from: Srf.Dialog, to: Srf.Dialog, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const headers: Record<string, string> = {};
    for (const name of NOTIFY_HEADERS) {
      const v = req.get(name);
      if (v !== undefined) headers[name] = v;
    }
    const event = headers.Event ?? '';
    const seqs = this.refers.get(from);
    if (/^\s*refer\b/i.test(event) && seqs) {
      const id = Number(/;\s*id\s*=\s*(\d+)/i.exec(event)?.[1] ?? LATEST);
      const theirs = seqs.get(id) ?? seqs.get(LATEST);
      if (theirs !== undefined) headers.Event = `refer;id=${theirs}`;
    }
    to.request({ method: 'NOTIFY', headers, body: req.body } as unknown as Srf.SrfRequest).then(
      (r) => res.send(r.status),
      (err: unknown) => {
        this.log.info({ err }, 'relayed NOTIFY failed');
        // RFC 6665 §4.1.3: 481 ends the subscription at the notifier; the other side is gone.
        res.send(481);
      },
    );
  }

  private relayReinvite(from: Srf.Dialog, to: Srf.Dialog, req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const refused = (err: unknown): void => {
      this.log.info({ err }, 'relayed re-INVITE refused');
      res.send((err as { status?: number }).status ?? 500);
    };
    if ((req.body ?? '').trim() !== '') {
      to.modify(req.body).then((sdp) => res.send(200, { body: sdp }), refused);
      return;
    }
    // drachtio-srf ACKs the other side's 200 at once, with no answer, unless told noAck.
    (to.modify('', { noAck: true }) as unknown as Promise<string | ThreePccAnswer>).then((r) => {
      if (typeof r === 'string') {
        res.send(200, { body: r });
        return;
      }
      if (this.over) {
        r.ack(refusingAnswer(r.sdp));
        return;
      }
      const seq = cseqNumber(req);
      this.unanswered.set(from, r);
      const onAck = (ack: Srf.SrfRequest): void => {
        if (cseqNumber(ack) !== seq) return;
        from.off('ack', onAck);
        this.stopWaiting(from);
        this.unanswered.delete(from);
        r.ack(ack.body ?? '');
      };
      from.on('ack', onAck);
      res.send(200, { body: r.sdp });
      // RFC 3261 §13.3.1.4: no ACK within 64*T1 (and a little more: a server running timer H ends it first) ends the dialog.
      this.ackTimers.set(
        from,
        setTimeout(() => {
          this.ackTimers.delete(from);
          from.off('ack', onAck);
          this.log.info({ ms: this.ackWaitMs }, 'no ACK for the 200 to a relayed offerless re-INVITE: ending both sides');
          this.end(null, ACK_TIMEOUT_REASON);
        }, this.ackWaitMs),
      );
    }, refused);
  }

  private stopWaiting(from: Srf.Dialog): void {
    const t = this.ackTimers.get(from);
    if (t) clearTimeout(t);
    this.ackTimers.delete(from);
  }
}

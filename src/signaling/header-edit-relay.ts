// Forwards a request whose headers a rule removes or rewrites, as a B2BUA: Parley writes
// the new leg's request itself (srf.createB2BUA for an INVITE, srf.request for anything
// else), so the edits hold on a real drachtio-server, whose proxy can only add headers
// (see src/policy/header-edit-plan.ts). Unlike a proxy, Parley stays in the call: the new
// leg has its own Call-ID and tags, and BYE, re-INVITE/UPDATE and INFO are relayed
// between the two dialogs. Targets are tried in order (a B2BUA does not fork).
import type Srf from 'drachtio-srf';
import type { HeaderEdit } from '../policy/rule-types.ts';
import { rewrittenHeaders } from '../policy/header-edit-plan.ts';
import type { Logger } from '../util/logger.ts';

/** Statuses after which the next target is not tried: the caller gave up (487), or a 6xx (RFC 3261 §16.7 step 5). */
const FINAL_FOR_ALL = (status: number): boolean => status === 487 || status >= 600;

/** What drachtio-srf's Dialog.modify resolves to for an offerless re-INVITE with noAck: the offer, and the ACK to send the answer in. */
interface ThreePccAnswer {
  sdp: string;
  ack: (sdp: string) => void;
}

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

function cseqNumber(req: Srf.SrfRequest): number {
  return Number(/^\s*(\d+)/.exec(req.get('CSeq') ?? '')?.[1] ?? NaN);
}

export class HeaderEditRelay {
  constructor(private readonly srf: Srf) {}

  relay(req: Srf.SrfRequest, res: Srf.SrfResponse, targets: string[], edits: readonly HeaderEdit[], log: Logger): void {
    const headers = rewrittenHeaders((req as unknown as { headers: Record<string, string> }).headers, edits);
    const run = req.method === 'INVITE' ? this.invite(req, res, targets, headers, log) : this.nonInvite(req, res, targets, headers, log);
    run.catch((err: unknown) => {
      log.warn({ err }, 'relaying the rewritten request failed');
      if (!(res as unknown as { finalResponseSent?: boolean }).finalResponseSent) res.send(500);
    });
  }

  private async invite(req: Srf.SrfRequest, res: Srf.SrfResponse, targets: string[], headers: Record<string, string>, log: Logger): Promise<void> {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      const last = i === targets.length - 1;
      try {
        const { uas, uac } = await this.srf.createB2BUA(req, res, target, { headers, proxyRequestHeaders: [], proxyResponseHeaders: [], passFailure: last });
        log.info({ target }, 'relayed with rewritten headers: answered');
        this.bind(uas, uac, log);
        this.bind(uac, uas, log);
        return;
      } catch (err) {
        const status = (err as { status?: number }).status ?? 500;
        log.info({ target, status }, 'relayed with rewritten headers: failed');
        if (last || FINAL_FOR_ALL(status)) {
          if (!last) res.send(status);
          return;
        }
      }
    }
  }

  /**
   * What one dialog receives goes to the other; either ending ends both. A BYE the SIP
   * server sent itself (a peer that never ACKed our 2xx, RFC 3261 §13.3.1.4) ends the other
   * side with the same Reason; a 2xx of the other side's still waiting for the answer this
   * side never sent is first ACKed with an answer refusing its offer (§13.2.2.4), which also
   * lets drachtio-srf take that dialog's next re-INVITE (it holds them until the ACK).
   */
  private bind(from: Srf.Dialog, to: Srf.Dialog, log: Logger): void {
    let unanswered: ThreePccAnswer | null = null;
    from.on('destroy', (bye?: Srf.SrfRequest) => {
      if (unanswered) {
        log.info('the re-INVITE\'s originator left without the answer: the other side\'s offer is refused in its ACK');
        unanswered.ack(refusingAnswer(unanswered.sdp));
        unanswered = null;
      }
      const reason = serverByeReason(bye);
      const done = (err: unknown): void => {
        if (err) log.debug({ err }, 'relayed BYE not sent (the dialog was gone)');
      };
      if (reason) to.destroy({ headers: { Reason: reason } }, done);
      else to.destroy(undefined, done);
    });
    from.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      const refused = (err: unknown): void => {
        log.info({ err }, 'relayed re-INVITE refused');
        res.send((err as { status?: number }).status ?? 500);
      };
      if ((req.body ?? '').trim() !== '') {
        to.modify(req.body).then((sdp) => res.send(200, { body: sdp }), refused);
        return;
      }
      // An offerless re-INVITE (RFC 3261 §14.2): the other side's offer comes back in our
      // 200 and the answer in this side's ACK, which goes on in the ACK of the other side's
      // 200 (drachtio-srf ACKs at once, with no answer, unless told noAck).
      (to.modify('', { noAck: true }) as unknown as Promise<string | ThreePccAnswer>).then((r) => {
        if (typeof r === 'string') {
          res.send(200, { body: r });
          return;
        }
        const seq = cseqNumber(req);
        unanswered = r;
        const onAck = (ack: Srf.SrfRequest): void => {
          if (cseqNumber(ack) !== seq) return;
          from.off('ack', onAck);
          unanswered = null;
          r.ack(ack.body ?? '');
        };
        from.on('ack', onAck);
        res.send(200, { body: r.sdp });
      }, refused);
    });
    from.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      const type = req.get('Content-Type');
      to.request({ method: 'INFO', headers: type ? { 'Content-Type': type } : {}, body: req.body } as unknown as Srf.SrfRequest).then(
        (r) => res.send(r.status),
        (err: unknown) => {
          log.info({ err }, 'relayed INFO failed');
          res.send(500);
        },
      );
    });
  }

  private async nonInvite(req: Srf.SrfRequest, res: Srf.SrfResponse, targets: string[], headers: Record<string, string>, log: Logger): Promise<void> {
    const type = req.get('Content-Type');
    if (type) headers['Content-Type'] = type;
    let status = 500;
    let reason: string | undefined;
    for (const target of targets) {
      const r = await new Promise<Srf.SrfResponse>((resolve, reject) => {
        const opts = { method: req.method, headers, body: req.body } as unknown as Srf.SrfRequest;
        (this.srf.request as unknown as (u: string, o: unknown, cb: (err: unknown, sent: Srf.SrfRequest) => void) => void)(target, opts, (err, sent) => {
          if (err) return reject(err as Error);
          sent.on('response', (response?: Srf.SrfResponse) => {
            if (response && response.status >= 200) resolve(response);
          });
        });
      });
      status = r.status;
      reason = (r as unknown as { reason?: string }).reason;
      log.info({ target, status }, 'relayed with rewritten headers');
      if (status < 300 || FINAL_FOR_ALL(status)) break;
    }
    if (reason) res.send(status, reason, {});
    else res.send(status);
  }
}

// Forwards a request whose headers a rule removes or rewrites, as a B2BUA: Parley writes
// the new leg's request itself (srf.createB2BUA for an INVITE, srf.request for anything
// else), so the edits hold on a real drachtio-server, whose proxy can only add headers
// (see src/policy/header-edit-plan.ts). Unlike a proxy, Parley stays in the call: the new
// leg has its own Call-ID and tags, and BYE, re-INVITE/UPDATE and INFO are relayed
// between the two dialogs (dialog-pair.ts); an INFO in either early dialog (after a 1xx with
// a To tag, before the 2xx: DTMF while early media plays) is relayed into the other's early
// dialog. Targets are tried in order (a B2BUA does not fork). The caller's end-to-end headers go
// forward (credentials, a REGISTER's Contact) and the next hop's come back (a challenge, a 3xx's
// Contact, Retry-After, Allow...): src/policy/header-edit-plan.ts says which. A SUBSCRIBE makes a
// dialog (its NOTIFYs) this relay cannot carry: refused 501 with a Warning.
// Each relayed leg carries X-Parley-Relay, naming the request it came from: one that comes back
// to Parley with the same Request-URI while that request is still being relayed is a loop
// (a rule that edits headers and proxies to Parley itself), answered 482 (RFC 3261 §16.3)
// instead of relayed again until Max-Forwards runs out, a new leg with a new Call-ID each time.
import { randomBytes } from 'node:crypto';
import type Srf from 'drachtio-srf';
import type { HeaderEdit } from '../policy/rule-types.ts';
import { endToEndResponseHeaders, rewrittenHeaders } from '../policy/header-edit-plan.ts';
import { withoutTag } from '../policy/routable-request.ts';
import { DialogPair } from './dialog-pair.ts';
import type { EarlyRequestRegistry } from './early-requests.ts';
import type { Logger } from '../util/logger.ts';

/** Statuses after which the next target is not tried: the caller gave up (487), or a 6xx (RFC 3261 §16.7 step 5). */
const FINAL_FOR_ALL = (status: number): boolean => status === 487 || status >= 600;
const RELAY_HEADER = 'X-Parley-Relay';
/**
 * Out-of-dialog requests that make a dialog the relay cannot carry (a subscription's NOTIFYs
 * come to Parley's Contact, in a dialog it does not relay): refused 501 with a Warning, never
 * proxied with the edits left out (a rule that removes a header may be there to keep it in).
 */
const DIALOG_FORMING = new Set(['SUBSCRIBE', 'REFER']);

type Resp = { status: number; reason?: string; headers: Record<string, unknown>; body?: string; get(name: string): string | undefined };

export class HeaderEditRelay {
  /** The requests being relayed now, by origin and Request-URI. */
  private readonly inFlight = new Set<string>();

  /** `ackWaitMs`: how long a relayed offerless re-INVITE's 200 waits for its ACK (src/call/dialog-util.ts ackWaitMs: 68*T1). */
  constructor(
    private readonly srf: Srf,
    private readonly ackWaitMs = 68 * 500,
    private readonly early: EarlyRequestRegistry | null = null,
  ) {}

  relay(req: Srf.SrfRequest, res: Srf.SrfResponse, targets: string[], edits: readonly HeaderEdit[], log: Logger): void {
    if (DIALOG_FORMING.has(req.method)) {
      log.warn({ uri: req.uri }, 'a rule edits the headers of a request that makes a dialog the relay cannot carry: 501');
      res.send(501, 'Not Implemented', { headers: { Warning: `399 parley "header edits cannot be relayed on ${req.method}: make the rule's match.method leave it out"` } });
      return;
    }
    const headers = rewrittenHeaders((req as unknown as { headers: Record<string, string> }).headers, edits, req.method);
    // The new leg's From and To are the request's (their tags aside: the leg has its own), unless
    // a rule set them: drachtio-srf would otherwise write sip:<user>@localhost, its display name
    // read from a P-Asserted-Identity the rule may just have removed, or, for a MESSAGE, no user.
    for (const name of ['From', 'To']) {
      const given = Object.keys(headers).some((n) => n.toLowerCase() === name.toLowerCase());
      const value = req.get(name);
      if (!given && value) headers[name] = withoutTag(value);
    }
    // A preloaded Route left after the SIP server took its own entry goes on: the new leg is sent
    // to its topmost hop, as a proxy would send the request (RFC 3261 §16.6 steps 6-7, §8.1.2).
    const route = req.get('Route');
    if (route) headers['Route'] = route;
    const origin = (req.get(RELAY_HEADER) ?? '').split(',')[0]!.trim() || randomBytes(12).toString('base64url');
    const key = `${origin} ${req.uri}`;
    if (this.inFlight.has(key)) {
      log.info({ uri: req.uri }, 'a relayed request came back to Parley unchanged: loop, 482');
      res.send(482);
      return;
    }
    this.inFlight.add(key);
    for (const n of Object.keys(headers)) if (n.toLowerCase() === RELAY_HEADER.toLowerCase()) delete headers[n];
    headers[RELAY_HEADER] = origin;
    const run = req.method === 'INVITE' ? this.invite(req, res, targets, headers, log) : this.nonInvite(req, res, targets, headers, log);
    run
      .catch((err: unknown) => {
        log.warn({ err }, 'relaying the rewritten request failed');
        if (!(res as unknown as { finalResponseSent?: boolean }).finalResponseSent) res.send(500);
      })
      .finally(() => this.inFlight.delete(key));
  }

  private async invite(req: Srf.SrfRequest, res: Srf.SrfResponse, targets: string[], headers: Record<string, string>, log: Logger): Promise<void> {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      const last = i === targets.length - 1;
      const unregister: Array<() => void> = [];
      // drachtio-srf calls it as (err, req), whatever its typings say.
      const cbRequest = ((_err: unknown, sent?: Srf.SrfRequest) => {
        if (sent && this.early) unregister.push(...this.relayEarlyInfo(req, sent, log));
      }) as unknown as (req: Srf.SrfRequest) => void;
      try {
        // The callee's end-to-end response headers come back (a 3xx's Contact, a 407's challenge, Retry-After...).
        const responseHeaders = (r: Resp): Record<string, string> => endToEndResponseHeaders(r.headers, r.status < 300);
        const opts = { headers, proxyRequestHeaders: [], proxyResponseHeaders: [], responseHeaders, passFailure: last };
        const { uas, uac } = await this.srf.createB2BUA(req, res, target, opts as unknown as Srf.CreateB2BUAOptions, { cbRequest });
        log.info({ target }, 'relayed with rewritten headers: answered');
        new DialogPair(uas, uac, log, this.ackWaitMs);
        return;
      } catch (err) {
        const status = (err as { status?: number }).status ?? 500;
        log.info({ target, status }, 'relayed with rewritten headers: failed');
        if (last || FINAL_FOR_ALL(status)) {
          const failure = (err as { res?: Resp }).res;
          if (!last) res.send(status, failure?.reason ?? '', { headers: failure ? endToEndResponseHeaders(failure.headers, false) : {} });
          return;
        }
      } finally {
        for (const u of unregister) u();
      }
    }
  }

  /**
   * While the relayed INVITE is pending: an INFO in the early dialog of either side goes on
   * in the other side's early dialog, and its final status comes back; a REFER gets 491. Both early dialogs
   * are named as drachtio names dialogs, Call-ID and the INVITE's From tag. Returns the
   * functions that unregister the two handlers.
   */
  private relayEarlyInfo(a: Srf.SrfRequest, b: Srf.SrfRequest, log: Logger): Array<() => void> {
    const idOf = (r: Srf.SrfRequest): string => `${r.get('Call-ID') ?? ''};from-tag=${/;\s*tag\s*=\s*([^;>\s]+)/i.exec(r.get('From') ?? '')?.[1] ?? ''}`;
    const handler = (toDialog: string) => (req: Srf.SrfRequest, res: Srf.SrfResponse): boolean => {
      if (req.method === 'REFER') {
        // Relayed once both dialogs are confirmed; before, 491 (RFC 3261 §21.4.27: try again later) says so.
        log.info({ referTo: req.get('Refer-To') }, 'REFER in an early dialog of a relayed call: 491 until it is answered');
        res.send(491, { headers: { Warning: '399 parley "the call is not connected yet: it has not been answered"' } });
        return true;
      }
      if (req.method !== 'INFO') return false;
      const type = req.get('Content-Type');
      const opts = { method: 'INFO', stackDialogId: toDialog, headers: type ? { 'Content-Type': type } : {}, body: req.body };
      // In a dialog the SIP server writes the Request-URI (drachtio-srf's own Dialog.request sends this placeholder).
      (this.srf.request as unknown as (u: string, o: unknown, cb: (err: unknown, sent: Srf.SrfRequest) => void) => void).call(this.srf, 'sip:placeholder', opts, (err, sent) => {
        if (err) {
          log.info({ err }, 'INFO of an early dialog not relayed (the other side has no early dialog)');
          res.send(500);
          return;
        }
        sent.on('response', (r?: Srf.SrfResponse) => {
          if (r && r.status >= 200) res.send(r.status);
        });
      });
      return true;
    };
    return [this.early!.add(a.get('Call-ID') ?? '', handler(idOf(b))), this.early!.add(b.get('Call-ID') ?? '', handler(idOf(a)))];
  }

  private async nonInvite(req: Srf.SrfRequest, res: Srf.SrfResponse, targets: string[], headers: Record<string, string>, log: Logger): Promise<void> {
    const type = req.get('Content-Type');
    if (type) headers['Content-Type'] = type;
    let last: Resp | undefined;
    for (const target of targets) {
      const r = await new Promise<Resp>((resolve, reject) => {
        const opts = { method: req.method, headers, body: req.body } as unknown as Srf.SrfRequest;
        (this.srf.request as unknown as (u: string, o: unknown, cb: (err: unknown, sent: Srf.SrfRequest) => void) => void)(target, opts, (err, sent) => {
          if (err) return reject(err as Error);
          sent.on('response', (response?: Srf.SrfResponse) => {
            if (response && response.status >= 200) resolve(response as unknown as Resp);
          });
        });
      });
      last = r;
      log.info({ target, status: r.status }, 'relayed with rewritten headers');
      if (r.status < 300 || FINAL_FOR_ALL(r.status)) break;
    }
    if (!last) {
      res.send(500);
      return;
    }
    // The end-to-end headers and the body of the final response go back (a REGISTER's bindings, a challenge, Allow...).
    const back = endToEndResponseHeaders(last.headers, false);
    const body = last.body ?? '';
    const bodyType = last.get('Content-Type');
    if (body && bodyType) back['Content-Type'] = bodyType;
    res.send(last.status, last.reason ?? '', body && bodyType ? { headers: back, body } : { headers: back });
  }
}

// Applies the rule chain to every new out-of-dialog request that reaches the
// drachtio-srf app. In-dialog requests never come here: drachtio-srf hands them
// to their dialog, so they are never re-routed.
import type Srf from 'drachtio-srf';
import type { RoutingTable } from '../policy/routing-table.ts';
import type { HeaderEdit, RouteDecision } from '../policy/rule-types.ts';
import type { RoutableRequest } from '../policy/routable-request.ts';
import { callLogger, type Logger } from '../util/logger.ts';
import { compileSource, type Matcher } from '../policy/pattern.ts';
import { inTrustDomain, wantsIdPrivacy } from '../policy/identity-privacy.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { proxyHeadersFor } from '../policy/header-edit-plan.ts';
import { redirectContact } from '../policy/redirect-contacts.ts';
import { EarlyRequests } from './early-requests.ts';
import { HeaderEditRelay } from './header-edit-relay.ts';
import { isOwnAddress, type ServerAddresses } from './own-address.ts';

/**
 * The methods drachtio delivers to applications (the rest it answers itself), and REFER: a
 * REFER in an early dialog (RFC 3261 §12.1: a 1xx with a To tag made it; drachtio-srf has no
 * Dialog before the 2xx) reaches the app as a request of no dialog, and with no handler for
 * its method drachtio-srf answered it 404. Outside any dialog neither SIP server passes a
 * REFER on (the embedded one answers 405).
 */
const ROUTED_METHODS = ['invite', 'message', 'options', 'subscribe', 'notify', 'publish', 'info', 'register', 'refer'] as const;
/** What Parley tells an OPTIONS addressed to itself (RFC 3261 §11.2). */
const OPTIONS_ANSWER = {
  Allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE',
  Accept: 'application/sdp',
  Supported: '100rel, timer, replaces',
};

export type InboundRouterEvents = {
  /** A rule chose a flow for this INVITE: the call layer takes it from here. */
  app: [req: Srf.SrfRequest, res: Srf.SrfResponse, flow: string, decision: RouteDecision, log: Logger];
  /** Every decision, for metrics and the event stream. */
  routed: [decision: RouteDecision, method: string, callId: string];
};

export class InboundRouter extends TypedEmitter<InboundRouterEvents> {
  private readonly relay: HeaderEditRelay;
  /** security.upstreams: the senders whose P-Asserted-Identity is forwarded (RFC 3325 §5). */
  private readonly upstreams: Matcher[];
  /** Takes a request of a call's early dialog (an INFO before the 200); true when it did. */
  earlyDialog: ((req: Srf.SrfRequest, res: Srf.SrfResponse) => boolean) | null = null;

  constructor(
    private readonly srf: Srf,
    private readonly routing: RoutingTable,
    private readonly log: Logger,
    /** sip.timers.t1 (ms): a relayed offerless re-INVITE's 200 waits 68*T1 for its ACK. */
    sipT1 = 500,
    /** Handlers of the early dialogs of legs Parley placed or relays (B legs, relayed INVITEs). */
    readonly early = new EarlyRequests(),
    upstreams: readonly string[] = [],
  ) {
    super(log);
    this.upstreams = upstreams.map(compileSource);
    this.relay = new HeaderEditRelay(srf, 68 * sipT1, early);
  }

  /** Registers the handlers. drachtio-srf then routes these methods to this app. */
  attach(): void {
    type Handler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void;
    const srf = this.srf as unknown as Record<string, (h: Handler) => void>;
    for (const method of ROUTED_METHODS) srf[method]!.call(this.srf, (req, res) => this.route(req, res));
  }

  route(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const callId = req.get('Call-ID') ?? 'unknown';
    const log = callLogger(this.log, callId, { method: req.method });
    if (/;\s*tag\s*=/i.test(req.get('To') ?? '')) {
      // In a dialog the app does not hold (an early one, made by a 1xx with a To tag): never
      // re-routed. The rule chain proxied it to its Request-URI, which is Parley (500).
      // A leg Parley placed or relays (early-requests.ts), or the call whose early dialog it
      // is (an INFO or a REFER: call/early-dialog.ts), may take it.
      if (this.early.take(req, res) || this.earlyDialog?.(req, res)) return;
      log.info('in-dialog request for no dialog of this app: 481');
      res.send(481);
      return;
    }
    let decision: RouteDecision;
    try {
      decision = this.routing.chain.evaluate(routable(req));
    } catch (err) {
      log.error({ err }, 'rule chain failed');
      res.send(500);
      return;
    }
    log.info(
      { decidedBy: decision.decidedBy, outcome: decision.outcome.kind, ruri: decision.requestUri, loopMarked: decision.loopMarked },
      'routed',
    );
    this.safeEmit('routed', decision, req.method, callId);
    const o = decision.outcome;
    if (this.isForUs(req, decision)) {
      // An SBC's keep-alive: proxying it to its own Request-URI would loop back here (482).
      res.send(200, { headers: OPTIONS_ANSWER });
      return;
    }
    if (this.answeredHere(req, res, decision, log)) return;
    switch (o.kind) {
      case 'proxy':
        this.proxy(req, res, decision, log);
        return;
      case 'redirect':
        res.send(o.status, { headers: { Contact: o.contacts.map(redirectContact).join(', ') } });
        return;
      case 'respond':
        if (o.reason) res.send(o.status, o.reason, { headers: o.headers });
        else res.send(o.status, { headers: o.headers });
        return;
      case 'app':
        if (req.method !== 'INVITE') {
          log.warn({ flow: o.flow }, 'a flow can only take an INVITE');
          res.send(405);
          return;
        }
        // Header edits are made to a request sent on; a flow's legs are its own (README, Routing rules).
        if (decision.headerEdits.length > 0) log.info({ flow: o.flow, edits: decision.headerEdits.length }, 'header edits of earlier rules not applied: a flow takes the call');
        this.safeEmit('app', req, res, o.flow, decision, log);
        return;
    }
  }

  /**
   * An OPTIONS whose Request-URI is Parley's own address (any user or none) is for Parley to
   * answer (RFC 3261 §11, §16.5), unless a rule took it somewhere else: no rule decided, or
   * the rule would proxy it back to Parley.
   */
  private isForUs(req: Srf.SrfRequest, decision: RouteDecision): boolean {
    if (req.method !== 'OPTIONS') return false;
    const server = serverOf(req);
    if (!isOwnAddress(req.uri, server)) return false;
    const o = decision.outcome;
    return decision.decidedBy === null || (o.kind === 'proxy' && o.targets.some((t) => isOwnAddress(t, server)));
  }

  /**
   * A request other than an INVITE or OPTIONS that would be proxied to Parley itself (its
   * Request-URI is Parley's address and no rule sends it elsewhere) is answered here rather
   * than looping back (a 482 "merged request" that tells a phone nothing): a REGISTER,
   * SUBSCRIBE or PUBLISH 405 with Allow (Parley is no registrar nor presence server, §8.2.1),
   * a MESSAGE 404 (nobody to deliver it to), a NOTIFY or INFO outside any dialog 481.
   */
  private answeredHere(req: Srf.SrfRequest, res: Srf.SrfResponse, decision: RouteDecision, log: Logger): boolean {
    if (req.method === 'INVITE' || req.method === 'OPTIONS') return false;
    const o = decision.outcome;
    if (o.kind !== 'proxy') return false;
    const server = serverOf(req);
    if (!o.targets.some((t) => isOwnAddress(t, server))) return false;
    const status = ['REGISTER', 'SUBSCRIBE', 'PUBLISH'].includes(req.method) ? 405 : req.method === 'MESSAGE' ? 404 : 481;
    log.info({ status, ruri: req.uri }, 'request for Parley itself that no rule takes: answered here');
    if (status === 405) res.send(405, { headers: { Allow: OPTIONS_ANSWER.Allow } });
    else res.send(status);
    return true;
  }

  private proxy(req: Srf.SrfRequest, res: Srf.SrfResponse, decision: RouteDecision, log: Logger): void {
    if (decision.outcome.kind !== 'proxy') return;
    const { targets, mode, recordRoute } = decision.outcome;
    // RFC 3325 §5: Parley is the edge of the trust domain its upstreams make; an identity asserted
    // by anyone else is removed before the request goes on (as the bridge does), ahead of the
    // rule's own edits (a rule may still assert one of its own).
    // A leg Parley placed itself (its loop marker admitted) carries the identity Parley wrote: kept.
    const source = (req as unknown as { source_address?: string }).source_address;
    const trusted = decision.loopMarked || (source !== undefined && this.upstreams.some((m) => m(source)));
    // RFC 3325 §7: a trusted identity the sender asked to withhold (`Privacy: id`) does not leave
    // the trust domain: removed unless every target is an upstream (identity-privacy.ts).
    const withheld = trusted && !decision.loopMarked && wantsIdPrivacy(req.get('Privacy')) && !targets.every((t) => inTrustDomain(t, this.upstreams));
    const edits: HeaderEdit[] = req.has('P-Asserted-Identity') && (!trusted || withheld)
      ? [{ op: 'remove', name: 'P-Asserted-Identity' }, ...decision.headerEdits]
      : decision.headerEdits;
    if (edits !== decision.headerEdits) {
      if (withheld) log.info({ targets }, 'P-Asserted-Identity with Privacy: id going outside security.upstreams: removed (RFC 3325 §7)');
      else log.info({ source }, 'P-Asserted-Identity from a sender outside security.upstreams: removed (RFC 3325 §5)');
    }
    // A proxy (either server) can only add headers; removing or rewriting one the request
    // carries needs a request Parley writes itself (src/policy/header-edit-plan.ts).
    const headers = proxyHeadersFor(edits, (name) => req.has(name));
    if (headers === null) {
      this.relay.relay(req, res, targets, edits, log);
      return;
    }
    const opts = {
      forking: mode === 'parallel' ? 'simultaneous' : 'sequential',
      recordRoute,
      remainInDialog: recordRoute,
      headers,
    } as Srf.ProxyRequestOptions;
    this.srf.proxyRequest(req, targets.map(srfProxyTarget), opts, (err: unknown, result: unknown) => {
      if (!err) {
        log.debug({ result }, 'proxied');
        return;
      }
      log.warn({ err }, 'proxying failed');
      // The SIP server refused to forward it: the caller hears so now, not from a backstop 64*T1 later.
      if (!(res as unknown as { finalResponseSent?: boolean }).finalResponseSent) {
        const why = String((err as Error).message ?? err).replace(/["\\\r\n]/g, ' ').slice(0, 120);
        res.send(500, 'Server Internal Error', { headers: { Warning: `399 parley "proxying failed: ${why}"` } });
      }
    });
  }
}

/**
 * A proxy target as drachtio-srf's proxy takes it: Request#proxy puts `sip:` before any
 * destination whose scheme is not sip: or tel:, so `sips:bob@host` went out as `sip:sips:bob@host`
 * (the SIP server could not send it). A sips: target is given as its TLS address,
 * `sip:bob@host;transport=tls`, which it leaves alone; the embedded SIP server forwards a SIPS
 * request to it with its `sips:` Request-URI again (RFC 5630 §5.3, core/sips-hop.ts), and a SIP
 * request over TLS with that SIP Request-URI (§5.3: a proxy does not turn SIP into SIPS).
 */
export function srfProxyTarget(target: string): string {
  const m = /^sips:([^?]*)(\?.*)?$/i.exec(target.trim());
  if (!m) return target;
  return `sip:${m[1]!.replace(/;\s*transport\s*=[^;]*/gi, '')};transport=tls${m[2] ?? ''}`;
}

/** Parley's listening points as drachtio reports them with a request (isOwnAddress reads them). */
function serverOf(req: Srf.SrfRequest): ServerAddresses {
  return { ...(req as unknown as { server?: ServerAddresses }).server, receivedOn: (req as unknown as ServerAddresses).receivedOn };
}

/** The view of a drachtio-srf request that the rule chain reads. */
export function routable(req: Srf.SrfRequest): RoutableRequest {
  return {
    method: req.method,
    uri: req.uri,
    body: req.body,
    source_address: (req as unknown as { source_address?: string }).source_address,
    get: (name) => req.get(name),
    has: (name) => req.has(name),
  };
}

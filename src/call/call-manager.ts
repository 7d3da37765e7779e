// The calls in progress. Takes the INVITEs the rule chain gave to a flow,
// creates their SipCall and CallSession, and ends them all on close. A call
// keeps the flows that were in force when it arrived (a reload does not touch it).
import type Srf from 'drachtio-srf';
import type { RoutingTable } from '../policy/routing-table.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { Admission, type AdmissionConfig } from './admission.ts';
import { DigestAuth, type DigestConfig } from './digest-auth.ts';
import type { CallDeps } from './call-deps.ts';
import { flowRecords } from './call-recording.ts';
import { CallSession, type CallSessionEvents } from './call-session.ts';
import { SipCall } from './sip-call.ts';
import type { BridgeTarget } from './ports.ts';

export interface ActiveCall {
  call: SipCall;
  session: CallSession;
  flow: string;
  startedAt: Date;
}

export type CallManagerEvents = {
  callstart: [active: ActiveCall];
  callend: [active: ActiveCall, outcome: CallSessionEvents['done'][0]];
};

export class CallManager extends TypedEmitter<CallManagerEvents> {
  private readonly calls = new Map<string, ActiveCall>();
  private readonly admission: Admission;
  private readonly digest: DigestAuth | null;
  private closed = false;

  constructor(
    private readonly deps: CallDeps,
    private readonly routing: RoutingTable,
    private readonly log: Logger,
    admission: AdmissionConfig & { digest?: DigestConfig | null } = { upstreams: [], maxCalls: 0, maxCallRatePerSource: 0 },
  ) {
    super(log);
    this.admission = new Admission(admission);
    this.digest = admission.digest ? new DigestAuth(admission.digest) : null;
  }

  /** Refuses new calls from now on (503); running calls go on. */
  drain(): void {
    this.admission.drain();
  }

  /** True once drain() was called: new calls are refused (the API's /ready says so). */
  get draining(): boolean {
    return this.admission.isDraining;
  }

  get active(): ReadonlyMap<string, ActiveCall> {
    return this.calls;
  }

  /** Runs `flow` for this INVITE. Failures answer the INVITE and are logged; nothing throws. */
  /** `bridgeTo`: the rule's choice of B-leg target for bridge steps that name none. */
  take(req: Srf.SrfRequest, res: Srf.SrfResponse, flow: string, log: Logger, bridgeTo?: BridgeTarget): void {
    if (this.closed) {
      res.send(503, { headers: { 'Retry-After': '5' } });
      return;
    }
    // Callers that are not upstreams authenticate, when digest is configured (RFC 3261 §22.2).
    let authenticated = false;
    if (this.digest && !this.admission.isUpstream(req.source_address)) {
      const auth = this.digest.verify(req.method, req.get('Authorization'));
      if (!auth.ok) {
        log.info({ source: req.source_address, reason: auth.reason }, 'digest challenge');
        res.send(401, { headers: { 'WWW-Authenticate': auth.challenge } });
        return;
      }
      authenticated = true;
      log.info({ user: auth.user }, 'caller authenticated');
    }
    const verdict = this.admission.check(req.source_address, this.calls.size, authenticated);
    if (!verdict.ok) {
      log.warn({ source: req.source_address, status: verdict.status, reason: verdict.reason }, 'call refused');
      const headers = verdict.retryAfter ? { 'Retry-After': String(verdict.retryAfter) } : {};
      res.send(verdict.status, verdict.reason, { headers });
      return;
    }
    const flows = this.routing.flows;
    if (!flows[flow]) {
      log.error({ flow }, 'the rule chain named a flow that does not exist');
      res.send(500);
      return;
    }
    // recording.minFreeBytes: a call that would record is refused before it starts, not cut short by a full disk.
    if (!this.deps.recordings.hasRoom() && flowRecords(flows, flow)) {
      log.warn({ freeBytes: this.deps.recordings.freeSpace }, 'call refused: too little free space for recordings');
      res.send(503, { headers: { 'Retry-After': '60' } });
      return;
    }
    SipCall.create(this.deps, req, res, log).then(
      (call) => {
        if (bridgeTo) call.bridgeTarget = bridgeTo;
        this.run(call, flows, flow);
      },
      (err: unknown) => log.warn({ err }, 'call refused'),
    );
  }

  /** Ends every call (BYE, or a final response before answer). Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const { call } of [...this.calls.values()]) call.hangup(503, 'Service Unavailable');
  }

  private run(call: SipCall, flows: typeof this.routing.flows, flow: string): void {
    if (this.closed) {
      call.hangup(503, 'Service Unavailable');
      return;
    }
    const session = new CallSession(call, flows);
    const active: ActiveCall = { call, session, flow, startedAt: new Date() };
    this.calls.set(call.callId, active);
    this.safeEmit('callstart', active);
    session.once('done', (outcome) => {
      this.calls.delete(call.callId);
      call.end(outcome.reason === 'completed' ? 'flow completed' : outcome.reason);
      this.safeEmit('callend', active, outcome);
    });
    session.run(flow).catch((err: unknown) => call.log.error({ err }, 'session failed'));
  }
}

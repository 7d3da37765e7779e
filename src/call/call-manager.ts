// The calls in progress. Takes the INVITEs the rule chain gave to a flow,
// creates their SipCall and CallSession, and ends them all on close. A call
// keeps the flows that were in force when it arrived (a reload does not touch it).
// A guard looks now and then for calls that no SIP dialog keeps alive any more.
import type Srf from 'drachtio-srf';
import type { CallsConfig } from '../config/schema.ts';
import type { RoutingTable } from '../policy/routing-table.ts';
import { MetadataBudget } from '../siprec/metadata-budget.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { Admission, type AdmissionConfig } from './admission.ts';
import { DigestAuth, type DigestConfig } from './digest-auth.ts';
import type { CallDeps } from './call-deps.ts';
import { flowRecords } from './call-recording.ts';
import { CallSession, type CallSessionEvents } from './call-session.ts';
import { SipCall } from './sip-call.ts';
import { takeEarlyRequest } from './early-dialog.ts';
import { answerCallerRefer } from './caller-dialog.ts';
import { SiprecAcceptance } from './siprec-acceptance.ts';
import { SiprecCall } from './siprec-call.ts';
import { SiprecGroups } from './siprec-groups.ts';
import type { FlowsConfig } from './flow-types.ts';
import type { BridgeTarget } from './ports.ts';
import { armInviteExpiry } from './invite-expiry.ts';

/** What the rule chain decided for a call's B legs: its bridgeTo, and the Request-URI after its retargets. */
export interface CallRoute {
  bridgeTo?: BridgeTarget;
  requestUri: string;
}

/** The cluster's say on an INVITE before it is answered (src/cluster/invite-gate.ts). */
export type InviteGateDecision =
  | { kind: 'local'; exemptFromDrain: boolean; release: () => void; ownership?: { node: string; room: string; epoch: number } | null }
  | { kind: 'redirect'; contact: string }
  | { kind: 'refuse'; status: number; reason: string; retryAfter: number };
export interface InviteGatePort {
  decide(flows: FlowsConfig, flow: string, requestUri: string): Promise<InviteGateDecision>;
}

/** A call Parley answered: an ordinary one, or a SIPREC recording session. */
export type ManagedCall = SipCall | SiprecCall;

/** The flow Parley provides when the config declares none of that name (a rule's `app: siprec`). */
const BUILTIN_FLOWS: FlowsConfig = { siprec: [{ siprec: null }] };

/** A flow that starts with the `siprec` step takes SIPREC sessions (its INVITE is multipart). */
function isSiprecFlow(flows: FlowsConfig, flow: string): boolean {
  const first = flows[flow]?.[0];
  return first !== undefined && 'siprec' in first;
}

export interface ActiveCall {
  call: ManagedCall;
  session: CallSession;
  flow: string;
  startedAt: Date;
}

export type CallManagerEvents = {
  callstart: [active: ActiveCall];
  callend: [active: ActiveCall, outcome: CallSessionEvents['done'][0]];
};

/** An INVITE admitted and still being set up (room, media leg): it may be cancelled meanwhile. */
interface PendingCall {
  canceled: boolean;
}

export const defaultCallsConfig: CallsConfig = { delayedOffer: 'offer', guardIntervalSec: 10, maxUnansweredSec: 50 };

export class CallManager extends TypedEmitter<CallManagerEvents> {
  private readonly calls = new Map<string, ActiveCall>();
  private readonly pending = new Map<string, PendingCall>();
  /** When the guard first saw a call ended while its flow was still running. */
  private readonly endedSeen = new Map<string, number>();
  private readonly admission: Admission;
  private readonly digest: DigestAuth | null;
  private guardTimer: NodeJS.Timeout | null = null;
  /** SIPREC sessions by group id (a transfer's sessions are linked). */
  private readonly siprecGroups: SiprecGroups;
  private readonly siprecAcceptance: SiprecAcceptance;
  /** siprec.metadataBudget: metadata parsed per SIPREC session and per source address. */
  readonly siprecMetadataBudget: MetadataBudget;
  private closed = false;
  private gate: InviteGatePort | null = null;

  constructor(
    private readonly deps: CallDeps,
    private readonly routing: RoutingTable,
    private readonly log: Logger,
    admission: AdmissionConfig & { digest?: DigestConfig | null } = { upstreams: [], maxCalls: 0, maxCallRatePerSource: 0 },
    private readonly settings: CallsConfig = defaultCallsConfig,
  ) {
    super(log);
    this.admission = new Admission(admission);
    this.siprecGroups = new SiprecGroups(deps.siprecGroupRecordings);
    this.siprecAcceptance = new SiprecAcceptance(deps.settings.siprec);
    this.siprecMetadataBudget = new MetadataBudget(deps.settings.siprec?.metadataBudget);
    this.digest = admission.digest ? new DigestAuth(admission.digest) : null;
    if (settings.guardIntervalSec > 0) {
      this.guardTimer = setInterval(() => this.guard(), settings.guardIntervalSec * 1000);
      this.guardTimer.unref();
    }
  }

  /** A cluster node decides first where an INVITE for a room goes (redirect, refuse, here). */
  setGate(gate: InviteGatePort | null): void {
    this.gate = gate;
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

  /** The calls running now (a Replaces is looked up among them: consultation.ts, replacing-invite.ts). */
  get running(): ManagedCall[] {
    return [...this.calls.values()].map((a) => a.call);
  }

  /** Calls admitted and not over: those running and those still being set up. */
  get admitted(): number {
    return this.admission.admitted;
  }

  /** Runs `flow` for this INVITE. Failures answer the INVITE and are logged; nothing throws. */
  /** `route`: the rule's choice of B-leg target for bridge steps that name none, and the Request-URI after the chain's retargets. */
  /** `rule`: the rule that gave the call to the flow, and its retention (written into the call's recordings). */
  take(req: Srf.SrfRequest, res: Srf.SrfResponse, flow: string, log: Logger, route?: CallRoute, rule?: { name: string | null; retentionDays: number | null }): void {
    if (this.closed) {
      res.send(503, { headers: { 'Retry-After': '5' } });
      return;
    }
    const callId = req.get('Call-ID') ?? '';
    // RFC 3261 §8.2.2.2: a new INVITE outside any dialog with the Call-ID of a call in
    // progress is a merged or looped request; the call it would clash with goes on.
    if (this.calls.has(callId) || this.pending.has(callId)) {
      log.warn({ source: req.source_address }, 'INVITE with the Call-ID of a call in progress');
      res.send(482);
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
    if (!this.gate) {
      this.admit(req, res, flow, log, route, rule, authenticated, null);
      return;
    }
    // The cluster's answer takes a Redis round trip: the INVITE is pending meanwhile (a CANCEL is remembered).
    const waiting: PendingCall = { canceled: false };
    this.pending.set(callId, waiting);
    const onCancel = (): void => {
      waiting.canceled = true;
    };
    const events = req as unknown as NodeJS.EventEmitter;
    events.once('cancel', onCancel);
    const done = (): void => {
      this.pending.delete(callId);
      events.off('cancel', onCancel);
    };
    this.gate.decide(this.routing.flows, flow, req.uri).then(
      (d) => {
        done();
        if (waiting.canceled || this.closed) {
          if (d.kind === 'local') d.release();
          if (this.closed && !waiting.canceled) res.send(503, { headers: { 'Retry-After': '5' } });
          return;
        }
        if (d.kind === 'redirect') {
          log.info({ contact: d.contact }, 'redirected to the room owner');
          res.send(302, { headers: { Contact: `<${d.contact}>` } });
        } else if (d.kind === 'refuse') {
          log.warn({ status: d.status, reason: d.reason }, 'call refused by the cluster');
          res.send(d.status, d.reason, { headers: { 'Retry-After': String(d.retryAfter) } });
        } else this.admit(req, res, flow, log, route, rule, authenticated, d);
      },
      (err: unknown) => {
        done();
        log.error({ err }, 'cluster gate failed');
        if (!waiting.canceled) res.send(503, { headers: { 'Retry-After': '5' } });
      },
    );
  }

  private admit(
    req: Srf.SrfRequest,
    res: Srf.SrfResponse,
    flow: string,
    log: Logger,
    route: CallRoute | undefined,
    rule: { name: string | null; retentionDays: number | null } | undefined,
    authenticated: boolean,
    gated: Extract<InviteGateDecision, { kind: 'local' }> | null,
  ): void {
    const callId = req.get('Call-ID') ?? '';
    const admitted = this.admission.admit(req.source_address, authenticated, gated?.exemptFromDrain ?? false);
    if (!admitted.ok) gated?.release();
    const ticket = admitted.ok && gated
      ? {
          ok: true as const,
          release: (): void => {
            admitted.release();
            gated.release();
          },
        }
      : admitted;
    if (!ticket.ok) {
      log.warn({ source: req.source_address, status: ticket.status, reason: ticket.reason }, 'call refused');
      const headers = ticket.retryAfter ? { 'Retry-After': String(ticket.retryAfter) } : {};
      res.send(ticket.status, ticket.reason, { headers });
      return;
    }
    const flows = { ...BUILTIN_FLOWS, ...this.routing.flows };
    if (!flows[flow]) {
      ticket.release();
      log.error({ flow }, 'the rule chain named a flow that does not exist');
      res.send(500);
      return;
    }
    // recording.minFreeBytes: a call that would record is refused before it starts, not cut short by a full disk.
    if (!this.deps.recordings.hasRoom() && flowRecords(flows, flow)) {
      log.warn({ freeBytes: this.deps.recordings.freeSpace }, 'call refused: too little free space for recordings');
      ticket.release();
      res.send(503, { headers: { 'Retry-After': '60' } });
      return;
    }
    const siprec = isSiprecFlow(flows, flow);
    const refusal = siprec ? this.siprecAcceptance.check(req.source_address, req.get('Require')) : null;
    if (refusal) {
      log.warn({ source: req.source_address, status: refusal.status }, 'SIPREC session refused (siprec.enabled, siprec.sources)');
      ticket.release();
      res.send(refusal.status, refusal.reason, { headers: refusal.headers });
      return;
    }
    // A CANCEL may arrive while the room and leg are being created, before the SipCall
    // listens: remember it here (RFC 3261 §9.2: the server has answered 487 already).
    const pending: PendingCall = { canceled: false };
    this.pending.set(callId, pending);
    const onCancel = (): void => {
      pending.canceled = true;
    };
    const events = req as unknown as NodeJS.EventEmitter;
    events.once('cancel', onCancel);
    const creating: Promise<ManagedCall> = siprec
      ? SiprecCall.create(this.deps, req, res, log, this.siprecGroups, this.siprecMetadataBudget)
      : SipCall.create(this.deps, req, res, log, { delayedOffer: this.settings.delayedOffer });
    creating.then(
      (call) => {
        this.pending.delete(callId);
        events.off('cancel', onCancel);
        if (call instanceof SipCall) call.fromUpstream = this.admission.isUpstream(req.source_address);
        if (route && call instanceof SipCall) {
          if (route.bridgeTo) call.bridgeTarget = route.bridgeTo;
          call.requestUri = route.requestUri;
        }
        if (call instanceof SipCall) armInviteExpiry(call, req.get('Expires'), log);
        call.recordingOrigin = {
          flow,
          rule: rule?.name ?? null,
          ruleRetentionDays: rule?.retentionDays ?? null,
          defaultRetentionDays: this.deps.settings.retentionDays ?? null,
          cluster: gated?.ownership ?? null,
        };
        if (pending.canceled) {
          call.end('caller canceled while the call was set up');
          ticket.release();
          return;
        }
        this.run(call, flows, flow, ticket.release);
      },
      (err: unknown) => {
        this.pending.delete(callId);
        events.off('cancel', onCancel);
        ticket.release();
        log.warn({ err }, 'call refused');
      },
    );
  }

  /** A request in an early dialog of a call (early-dialog.ts); true when the call took it. */
  earlyRequest(req: Srf.SrfRequest, res: Srf.SrfResponse): boolean {
    const call = this.calls.get(req.get('Call-ID') ?? '')?.call;
    if (!(call instanceof SipCall)) return false;
    return takeEarlyRequest(call, req, res, (r, s) => answerCallerRefer(call, r, s));
  }

  /** Ends every call (BYE, or a final response before answer). Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.guardTimer) clearInterval(this.guardTimer);
    this.guardTimer = null;
    for (const { call } of [...this.calls.values()]) call.hangup(503, 'Service Unavailable');
  }

  /**
   * Finds calls that nothing on the SIP side keeps alive any more (no confirmed or early
   * dialog, no pending INVITE transaction) and ends them; then flows that outlived
   * their call by a whole guard period are aborted, so room and recording close.
   */
  guard(now = Date.now()): void {
    const maxUnansweredMs = this.settings.maxUnansweredSec * 1000;
    for (const [callId, { call, session }] of this.calls) {
      if (!call.ended) {
        const why = call.deadReason(now, maxUnansweredMs);
        if (!why) continue;
        call.log.warn({ why }, 'guard: the call has no live dialog; ending it');
        if (why.startsWith('unanswered')) call.hangup(408);
        else call.end(`guard: ${why}`);
        continue;
      }
      const seen = this.endedSeen.get(callId);
      if (seen === undefined) this.endedSeen.set(callId, now);
      else {
        call.log.warn({ endedForMs: now - seen }, 'guard: the flow did not stop after its call ended; aborting it');
        session.abort();
      }
    }
  }

  private run(call: ManagedCall, flows: typeof this.routing.flows, flow: string, release: () => void): void {
    if (this.closed) {
      call.hangup(503, 'Service Unavailable');
      release();
      return;
    }
    const session = new CallSession(call, flows);
    const active: ActiveCall = { call, session, flow, startedAt: new Date() };
    this.calls.set(call.callId, active);
    this.safeEmit('callstart', active);
    session.once('done', (outcome) => {
      this.calls.delete(call.callId);
      this.endedSeen.delete(call.callId);
      release();
      call.end(outcome.reason === 'completed' ? 'flow completed' : outcome.reason);
      this.safeEmit('callend', active, outcome);
    });
    session.run(flow).catch((err: unknown) => call.log.error({ err }, 'session failed'));
  }
}

// A conference member's transfer (REFER, RFC 3515), under the conference step's
// `transfers: members`. The Refer-To is dialled into the room as a member of its own
// (dial-out.ts), so the room goes on whoever leaves: a hidden member's target is hidden too,
// any other joins under its own URI (an impersonating member's `as` stays the member's); it
// takes the member's mute. An attended transfer's Replaces (the member's consultation call
// with the target) goes into the INVITE, so the target swaps that call for the room; when the
// consultation call went through this Parley too, the INVITE goes to that call's other party,
// naming its own dialog with Parley (consultation.ts), and that call is ended if the party
// keeps it. The member hears how it went in NOTIFYs (100, then the target's final status)
// and, once the target answered, leaves: its phone hangs up, or Parley sends its BYE after
// TRANSFEROR_BYE_MS. A failed transfer leaves the member in the room.
// Refused with 403 and a Warning: a Refer-To that is not a sip:, sips: or tel: URI, a
// Replaces naming a call of this Parley that is not a connected two-party bridge (or the
// member's own). A second REFER while one runs, or one before the member's call is answered
// (in its early dialog), gets 491 with a Warning: try again later.
import type Srf from 'drachtio-srf';
import type { Logger } from '../../util/logger.ts';
import { acceptRefer, deferRefer, EARLY_DIALOG_WARNING, maxForwardsOf, type ReferNotifier, referTarget, replacesId, transferMaxForwards, TRANSFEROR_BYE_MS, type ReplacesId } from '../refer-request.ts';
import { consultationEnder, type Consultation, type RemoteConsultation } from '../consultation.ts';
import type { TransferNote } from '../../recording/metadata.ts';
import { CALLER_LEG, type SipCall } from '../sip-call.ts';
import { formatNameAddr } from '../name-addr.ts';
import type { Conference } from './conference-manager.ts';
import { DialOutError, type DialOutOptions, type DialOutSettings } from './dial-out.ts';
import { RosterConflictError, type RosterEntry } from './roster.ts';

/** How long the target rings. */
const RING_SECONDS = 30;

/** A consultation call through this Parley (consultation.ts), or on another node of its cluster (cluster/remote-consultation.ts). */
export type MemberConsultation = Consultation | RemoteConsultation;

type Dial = (settings: DialOutSettings, options: DialOutOptions) => Promise<{ legId: string; callId: string }>;

/** The member whose REFERs are taken: a caller that joined the room, or a leg dialled into it. */
export interface TransferringMember {
  /** Its dialog (null: not answered yet). */
  readonly dialog: Srf.Dialog | null;
  readonly ended: boolean;
  /** Its own URI: the Referred-By when the REFER has none. */
  readonly uri: string;
  /** Where the target's INVITE comes from: the room's address as the member knows it. */
  readonly roomUri: string;
  /** How the target is dialled. */
  readonly settings: DialOutSettings;
  /** Its own INVITE's Max-Forwards less one, the most the target's INVITE carries (absent: a leg Parley dialled, 70). */
  readonly maxForwards?: number;
  /** The call (of this Parley, or of another cluster node) an attended transfer's Replaces names (consultation.ts); absent or null: none looked for, or none. */
  consultation?(id: ReplacesId): Promise<MemberConsultation | null>;
  /** Parley ends the member's dialog (it stayed after its transfer). */
  hangup(): void;
  /** The member's own recording, if it has one, keeps the transfer (its `transfers`; `leg` filled in there). */
  recordTransfer?(t: Omit<TransferNote, 'leg'>): void;
  /** Runs `cb` once when the member's dialog ends. */
  onEnded(cb: () => void): void;
}

/** A caller that joined the room through its flow, as a TransferringMember. */
export function callMember(call: SipCall): TransferringMember {
  const deps = call.deps;
  return {
    get dialog() {
      return call.dialog;
    },
    get ended() {
      return call.ended;
    },
    uri: call.from.uri,
    maxForwards: maxForwardsOf(call.req) - 1,
    // The target is called by the room, as the member reached it.
    roomUri: call.originalTo.uri,
    settings: {
      srf: deps.srf,
      loopMarker: deps.settings.loopMarker,
      outboundProxy: deps.settings.outboundProxy,
      localHost: hostOf(call.originalTo.uri),
      sipT1: deps.settings.sipT1,
      earlyLegs: deps.earlyLegs,
    },
    // Looked for here first, then (in a cluster) on the other nodes.
    consultation: async (id) => (await deps.consultation?.(id, call)) ?? (await deps.remoteConsultation?.(id)) ?? null,
    hangup: () => call.hangup(),
    onEnded: (cb) => call.once('ended', () => cb()),
    // Its recording holds the caller's leg and the room as one leg (conference-manager.ts link()).
    recordTransfer: (t) => call.activeRecording?.transfer({ ...t, leg: CALLER_LEG }),
  };
}

/** The REFERs of one member while it is in `conf`; take() answers each. */
export class MemberTransfers {
  private running = false;

  constructor(
    private readonly member: TransferringMember,
    private readonly conf: Conference,
    private readonly entry: RosterEntry,
    private readonly dial: Dial,
    private readonly log: Logger,
    /** Where a Replaces is looked up when the member has no finder of its own (a leg the room dialled). */
    private readonly consultation: ((id: ReplacesId) => Promise<MemberConsultation | null>) | null = null,
  ) {}

  take(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const refuse = (status: number, why: string): void => {
      this.log.info({ referTo: req.get('Refer-To'), status, why }, 'conference member\'s REFER refused');
      res.send(status, { headers: { Warning: `399 parley "${why.replace(/"/g, "'")}"` } });
    };
    // A caller that joined and is not answered yet (its 200 waits for a PRACK): its REFER came in
    // its early dialog (early-dialog.ts), and the transfer is taken once it is connected.
    if (this.member.dialog === null && !this.member.ended) return deferRefer(req, res, EARLY_DIALOG_WARNING, this.log);
    const t = referTarget(req.get('Refer-To'));
    if ('status' in t) return refuse(t.status, t.why);
    const maxForwards = transferMaxForwards(req, this.member.maxForwards);
    if (maxForwards === null) return refuse(483, 'the REFER has no Max-Forwards left (Too Many Hops)');
    // As a bridge answers one: try again later (RFC 3261 §21.4.27), not "never" (403, §21.4.4).
    if (this.running) return deferRefer(req, res, '399 parley "a transfer of this member is already running"', this.log);
    this.running = true;
    void this.accept(t, maxForwards, req, res, refuse)
      .catch((err: unknown) => {
        this.log.error({ err }, 'conference member\'s REFER failed');
        refuse(500, 'internal error');
        return false;
      })
      .then((started) => {
        if (!started) this.running = false;
      });
  }

  /** Accepts the REFER (202) and starts its transfer: true; false: refused (answered). */
  private async accept(t: { uri: string; replaces?: string }, maxForwards: number, req: Srf.SrfRequest, res: Srf.SrfResponse, refuse: (status: number, why: string) => void): Promise<boolean> {
    // The consultation call went through this Parley (or a node of its cluster) too: the target is that call's other party.
    const find = this.member.consultation?.bind(this.member) ?? this.consultation;
    const id = t.replaces === undefined ? null : replacesId(t.replaces);
    const own = id === null ? null : ((await find?.(id)) ?? null);
    if (own !== null && 'refused' in own) {
      refuse(403, own.refused);
      return false;
    }
    const uas = this.member.dialog;
    if (!uas || this.member.ended) {
      refuse(481, 'the call is ending');
      return false;
    }
    const notifier = acceptRefer(uas, req, res, this.log);
    const consultation = own === null ? null : 'call' in own ? own.call.callId : id!.callId;
    this.member.recordTransfer?.({ event: 'asked', target: own?.uri ?? t.uri, room: this.conf.name, ...(consultation ? { consultation } : {}) });
    const headers: Record<string, string> = { 'Max-Forwards': String(maxForwards) };
    const referredBy = this.referredBy(req);
    if (referredBy !== null) headers['Referred-By'] = referredBy;
    const replaces = own?.replaces ?? t.replaces;
    if (replaces !== undefined) headers['Replaces'] = replaces;
    const endOwn = own === null ? null : 'call' in own ? consultationEnder(own, this.log) : own.end;
    void this.run(own?.uri ?? t.uri, headers, notifier, endOwn).finally(() => (this.running = false));
    return true;
  }

  /**
   * The Referred-By of the target's INVITE: who the room shows the member as, never its own
   * identity when the room hides it. A hidden member (identity generated) gets none: its
   * generated URI is nobody's to show, and any identity at all tells the target a hidden
   * member was there. An impersonating one's is its `as` (URI and display name). In both, the
   * REFER's own Referred-By (what the member's phone wrote: its real address, as a rule) is
   * dropped too. Anyone else: the REFER's, else the member's URI.
   */
  private referredBy(req: Srf.SrfRequest): string | null {
    const { entry } = this;
    if (entry.identity === 'generated') return null;
    if (entry.identity === 'impersonated') return formatNameAddr({ uri: entry.uri, displayName: entry.displayName });
    return req.get('Referred-By') ?? `<${this.member.uri}>`;
  }

  private async run(target: string, headers: Record<string, string>, notifier: ReferNotifier, endConsultation: (() => void) | null): Promise<void> {
    const { member, conf, entry, log } = this;
    const hidden = entry.identity === 'generated';
    log.info({ room: conf.name, leg: entry.legId, target, attended: headers['Replaces'] !== undefined }, 'conference member transfers its place: dialling the target into the room');
    try {
      const joined = await this.dial(member.settings, {
          to: target,
          identity: hidden ? 'generated' : 'normal',
          from: member.roomUri,
          headers,
          ringTimeout: RING_SECONDS,
          muted: entry.muted,
        },
      );
      log.info({ room: conf.name, leg: joined.legId, target, transferor: entry.legId }, 'member transfer done: the target is in the room');
      notifier.final(200, 'OK');
      member.recordTransfer?.({ event: 'connected', target, newLeg: joined.legId, room: conf.name });
      // The target hangs its replaced dialog up (RFC 3891 §3); one that keeps it has the consultation call ended.
      if (endConsultation) setTimeout(endConsultation, TRANSFEROR_BYE_MS).unref();
      if (!member.ended) {
        const t = setTimeout(() => {
          if (member.ended) return;
          log.info({ leg: entry.legId }, 'the member did not hang up after its transfer: BYE');
          member.hangup();
        }, TRANSFEROR_BYE_MS);
        t.unref();
        member.onEnded(() => clearTimeout(t));
      }
    } catch (err) {
      const [status, reason] =
        err instanceof DialOutError ? [err.status, err.message] : err instanceof RosterConflictError ? [403, 'Forbidden'] : [500, 'Server Internal Error'];
      log.info({ room: conf.name, target, status, reason, err: err instanceof DialOutError ? undefined : err }, 'member transfer failed: the member stays');
      notifier.final(status, reason);
      member.recordTransfer?.({ event: 'failed', target, status, room: conf.name });
    }
  }
}

/** The host[:port] of a SIP URI (the room's own URI when no From is given; not used then). */
function hostOf(uri: string): string {
  const at = uri.indexOf('@');
  return uri.slice(at >= 0 ? at + 1 : uri.indexOf(':') + 1).split(/[;?>]/)[0] ?? '';
}

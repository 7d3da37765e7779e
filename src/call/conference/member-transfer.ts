// A conference member's blind transfer (REFER, RFC 3515), under the conference step's
// `transfers: members`. The Refer-To is dialled into the room as a member of its own
// (dial-out.ts), so the room goes on whoever leaves: a hidden member's target is hidden too,
// any other joins under its own URI (an impersonating member's `as` stays the member's); it
// takes the member's mute. The member hears how it went in NOTIFYs (100, then the target's
// final status) and, once the target answered, leaves: its phone hangs up, or Parley sends
// its BYE after TRANSFEROR_BYE_MS. A failed transfer leaves the member in the room.
// Refused with 403 and a Warning: a Refer-To that is not a sip:, sips: or tel: URI, a
// Replaces (an attended transfer out of a conference: not done), a second REFER while one runs.
import type Srf from 'drachtio-srf';
import type { Logger } from '../../util/logger.ts';
import { ReferNotifier, referTarget } from '../refer-request.ts';
import type { SipCall } from '../sip-call.ts';
import type { Conference } from './conference-manager.ts';
import { DialOutError, type DialOutOptions, type DialOutSettings } from './dial-out.ts';
import { RosterConflictError, type RosterEntry } from './roster.ts';

/** How long a member whose transfer succeeded may stay before Parley hangs it up. */
export const TRANSFEROR_BYE_MS = 4000;
/** How long the target rings. */
const RING_SECONDS = 30;

type Dial = (settings: DialOutSettings, options: DialOutOptions) => Promise<{ legId: string; callId: string }>;

/** The REFERs of one member's call while it is in `conf`; take() answers each. */
export class MemberTransfers {
  private running = false;

  constructor(
    private readonly call: SipCall,
    private readonly conf: Conference,
    private readonly entry: RosterEntry,
    private readonly dial: Dial,
    private readonly log: Logger,
  ) {}

  take(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const refuse = (status: number, why: string): void => {
      this.log.info({ referTo: req.get('Refer-To'), status, why }, 'conference member\'s REFER refused');
      res.send(status, { headers: { Warning: `399 parley "${why.replace(/"/g, "'")}"` } });
    };
    const t = referTarget(req.get('Refer-To'));
    if ('status' in t) return refuse(t.status, t.why);
    if (t.replaces !== undefined) return refuse(403, 'an attended transfer out of a conference is not supported');
    if (this.running) return refuse(403, 'a transfer of this member is already running');
    const uas = this.call.dialog;
    if (!uas || this.call.ended) return refuse(481, 'the call is ending');
    this.running = true;
    const subscribed = !/^false$/i.test((req.get('Refer-Sub') ?? '').trim());
    res.send(202, subscribed ? {} : { headers: { 'Refer-Sub': 'false' } });
    const notifier = new ReferNotifier(uas, Number.parseInt(req.get('CSeq') ?? '0', 10) || 0, subscribed, this.log);
    notifier.trying();
    const referredBy = req.get('Referred-By') ?? `<${this.call.from.uri}>`;
    void this.run(t.uri, referredBy, notifier).finally(() => (this.running = false));
  }

  private async run(target: string, referredBy: string, notifier: ReferNotifier): Promise<void> {
    const { call, conf, entry, log } = this;
    const deps = call.deps;
    const hidden = entry.identity === 'generated';
    log.info({ room: conf.name, leg: entry.legId, target }, 'conference member transfers its place: dialling the target into the room');
    try {
      const joined = await this.dial(
        {
          srf: deps.srf,
          loopMarker: deps.settings.loopMarker,
          outboundProxy: deps.settings.outboundProxy,
          localHost: hostOf(call.originalTo.uri),
          sipT1: deps.settings.sipT1,
          earlyLegs: deps.earlyLegs,
        },
        {
          to: target,
          identity: hidden ? 'generated' : 'normal',
          // The target is called by the room, as the member reached it.
          from: call.originalTo.uri,
          headers: { 'Referred-By': referredBy },
          ringTimeout: RING_SECONDS,
          muted: entry.muted,
        },
      );
      log.info({ room: conf.name, leg: joined.legId, target, transferor: entry.legId }, 'member transfer done: the target is in the room');
      notifier.final(200, 'OK');
      if (!call.ended) {
        const t = setTimeout(() => {
          if (call.ended) return;
          log.info({ leg: entry.legId }, 'the member did not hang up after its transfer: BYE');
          call.hangup();
        }, TRANSFEROR_BYE_MS);
        t.unref();
        call.once('ended', () => clearTimeout(t));
      }
    } catch (err) {
      const [status, reason] =
        err instanceof DialOutError ? [err.status, err.message] : err instanceof RosterConflictError ? [403, 'Forbidden'] : [500, 'Server Internal Error'];
      log.info({ room: conf.name, target, status, reason, err: err instanceof DialOutError ? undefined : err }, 'member transfer failed: the member stays');
      notifier.final(status, reason);
    }
  }
}

/** The host[:port] of a SIP URI (the room's own URI when no From is given; not used then). */
function hostOf(uri: string): string {
  const at = uri.indexOf('@');
  return uri.slice(at >= 0 ? at + 1 : uri.indexOf(':') + 1).split(/[;?>]/)[0] ?? '';
}

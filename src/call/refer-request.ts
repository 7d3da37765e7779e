// What a REFER asks for (RFC 3515), and the NOTIFYs that tell its sender how it went.
// - referTarget: the Refer-To's URI (name-addr or addr-spec); a sip:, sips: or tel: URI
//   only (http:, mailto:… are refused). An embedded `Replaces` (an attended transfer,
//   RFC 3891: the dialog the transferor has with the target) is given back to go into the
//   INVITE (replacesId reads its Call-ID and tags); other embedded headers are left out of it.
// - ReferNotifier: `Event: refer;id=<the REFER's CSeq>`, `message/sipfrag;version=2.0`
//   bodies (`SIP/2.0 100 Trying`, then the final status), `Subscription-State: active`
//   until the final one (`terminated;reason=noresource`); none at all when the REFER
//   said `Refer-Sub: false` (RFC 4488), whose 202 then says it too.
import type Srf from 'drachtio-srf';
import { headerUri } from '../policy/routable-request.ts';
import type { Logger } from '../util/logger.ts';

export type ReferTarget = { uri: string; replaces?: string } | { status: number; why: string };

export function referTarget(value: string | undefined): ReferTarget {
  if (value === undefined || value.trim() === '') return { status: 400, why: 'the REFER has no Refer-To' };
  const raw = headerUri(value);
  const q = raw.indexOf('?');
  const uri = q >= 0 ? raw.slice(0, q) : raw;
  let replaces: string | undefined;
  for (const h of q >= 0 ? raw.slice(q + 1).split('&') : []) {
    const eq = h.indexOf('=');
    if (eq > 0 && h.slice(0, eq).trim().toLowerCase() === 'replaces') replaces = decodeURIComponentSafe(h.slice(eq + 1)).trim();
  }
  const problem = replaces === undefined ? null : replacesProblem(replaces);
  if (problem !== null) return { status: 400, why: `the Refer-To's Replaces ${problem}` };
  if (!/^(sips?:[^\s<>"]*@?[^\s<>"]+|tel:\+?[0-9A-Fa-f*#().-]+(;[^\s<>"]*)?)$/i.test(uri)) {
    return { status: 403, why: 'the Refer-To is not a sip:, sips: or tel: URI' };
  }
  return replaces === undefined ? { uri } : { uri, replaces };
}

/** A request's Max-Forwards (70 when absent or unreadable: the SIP layer refuses a bad one). */
export function maxForwardsOf(req: { get(name: string): string | undefined }): number {
  const mf = Number(req.get('Max-Forwards') ?? '70');
  return Number.isFinite(mf) ? mf : 70;
}

/**
 * The Max-Forwards of the INVITE a REFER makes Parley send: the REFER's less one (RFC 7332 §3:
 * a B2BUA's request made because of another carries its Max-Forwards less one), never more
 * than `cap`, the B leg's or the member's own (its INVITE's less one), so a loop of transfers
 * through Parley still ends (a phone's REFER starts at 70 again). Null: none left, 483.
 */
export function transferMaxForwards(refer: { get(name: string): string | undefined }, cap = 70): number | null {
  const mf = Math.min(maxForwardsOf(refer) - 1, cap);
  return mf < 0 ? null : mf;
}

/** Why a Replaces value names no dialog (null: it does): it needs a Call-ID and both tags (RFC 3891 §6.1), nothing else. */
export function replacesProblem(value: string): string | null {
  if (!/^[^\s;]+([ \t]*;[ \t]*[\w-]+(=[^\s;]+)?)*$/.test(value)) return 'is malformed';
  if (!(/;\s*to-tag=/i.test(value) && /;\s*from-tag=/i.test(value))) return 'lacks its to-tag or from-tag';
  return null;
}

/** The dialog a Replaces value names (RFC 3891 §6.1), as its recipient matches it: `toTag` its own tag, `fromTag` its peer's. */
export interface ReplacesId {
  callId: string;
  toTag: string;
  fromTag: string;
}

/** The Call-ID and tags of a Replaces value referTarget accepted (an absent tag is ''). */
export function replacesId(replaces: string): ReplacesId {
  const [callId, ...params] = replaces.split(';');
  const tag = (name: string): string => {
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq > 0 && p.slice(0, eq).trim().toLowerCase() === name) return p.slice(eq + 1).trim();
    }
    return '';
  };
  return { callId: callId!.trim(), toTag: tag('to-tag'), fromTag: tag('from-tag') };
}

/** The Replaces value that names `id`. */
export function replacesValue(id: ReplacesId): string {
  return `${id.callId};to-tag=${id.toTag};from-tag=${id.fromTag}`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parley's own blind transfer of a peer (the `transfer` step): REFER in its dialog; rejects unless 2xx. */
export async function sendRefer(dialog: Srf.Dialog, target: string, referredBy: string): Promise<void> {
  const res = await dialog.request({
    method: 'REFER',
    headers: { 'Refer-To': `<${target}>`, 'Referred-By': `<${referredBy}>` },
  } as unknown as Srf.SrfRequest);
  if (res.status < 200 || res.status >= 300) throw new Error(`REFER answered ${res.status}`);
}

/** Why a REFER in an early dialog (its sender's 1xx had a To tag, RFC 3261 §12.1; no 2xx yet) waits: there is no established call to hand on. */
export const EARLY_DIALOG_WARNING = '399 parley "the call is not connected yet: it has not been answered"';

/**
 * A REFER Parley would carry out, but not now (its dialog still early, another transfer under
 * way): RFC 3515 §2.4.2 lets the recipient refuse a REFER, and 491 (RFC 3261 §21.4.27) tells
 * the sender to try again later, where a 403 would tell it not to (§21.4.4); `warning` says why.
 */
export function deferRefer(req: Srf.SrfRequest, res: Srf.SrfResponse, warning: string, log: Logger): void {
  log.info({ referTo: req.get('Refer-To'), warning }, 'transfer refused for now (491)');
  res.send(491, { headers: { Warning: warning } });
}

/** How long a transferor that was told its transfer succeeded may stay before Parley ends its dialog (so may a consulted party's replaced one). */
export const TRANSFEROR_BYE_MS = 4000;

/**
 * Accepts a REFER that Parley carries out: 202 (saying `Refer-Sub: false` back when the REFER
 * asked for no subscription, RFC 4488) and its notifier, which has sent `100 Trying`.
 */
export function acceptRefer(dialog: Srf.Dialog, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger): ReferNotifier {
  const subscribed = !/^\s*false\s*$/i.test(req.get('Refer-Sub') ?? '');
  res.send(202, subscribed ? undefined : { headers: { 'Refer-Sub': 'false' } });
  const id = Number.parseInt(req.get('CSeq') ?? '', 10);
  const notifier = new ReferNotifier(dialog, Number.isFinite(id) ? id : 1, subscribed, log);
  notifier.trying();
  return notifier;
}

export class ReferNotifier {
  private over = false;

  constructor(
    private readonly dialog: Srf.Dialog,
    private readonly id: number,
    /** False: the REFER said `Refer-Sub: false`, no NOTIFY is sent. */
    private readonly subscribed: boolean,
    private readonly log: Logger,
  ) {}

  /** `SIP/2.0 100 Trying`, the subscription active. */
  trying(): void {
    this.send(100, 'Trying', false);
  }

  /** The transfer's outcome (the target's final status); the subscription ends. Once. */
  final(status: number, reason: string): void {
    this.send(status, reason, true);
  }

  private send(status: number, reason: string, last: boolean): void {
    if (!this.subscribed || this.over) return;
    if (last) this.over = true;
    const opts = {
      method: 'NOTIFY',
      headers: {
        Event: `refer;id=${this.id}`,
        'Subscription-State': last ? 'terminated;reason=noresource' : 'active;expires=60',
        'Content-Type': 'message/sipfrag;version=2.0',
      },
      body: `SIP/2.0 ${status} ${reason.replace(/[\r\n]/g, ' ')}\r\n`,
    };
    try {
      (this.dialog.request(opts as unknown as Srf.SrfRequest) as unknown as Promise<unknown>).catch((err: unknown) =>
        this.log.debug({ err, status }, 'transfer NOTIFY not answered'),
      );
    } catch (err) {
      this.log.debug({ err, status }, 'transfer NOTIFY not sent (the dialog is gone)');
    }
  }
}

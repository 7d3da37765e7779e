// An INVITE's Expires (RFC 3261 §13.3.1, §20.19): how long the caller's INVITE may wait for a
// final response. A call Parley has not answered by then (a callee still ringing behind a
// bridge, a notice still playing in early media) gets 487 Request Terminated and ends as on the
// caller's CANCEL (a ringing callee is cancelled, the recording closed), rather than being
// answered after the caller gave up. A 200 already under way is left to finish.
import type { Logger } from '../util/logger.ts';
import { hangupInvite } from './dialog-util.ts';
import type { SipCall } from './sip-call.ts';

/** The longest wait kept (setTimeout's own limit is about 24.8 days; the unanswered-call guard ends such calls long before). */
const MAX_MS = 24 * 3600_000;

/** An INVITE's Expires in ms: delta-seconds of at least 1 (0 or anything else: none). */
export function inviteExpiresMs(value: string | undefined): number | null {
  const v = value?.trim();
  if (!v || !/^\d{1,10}$/.test(v)) return null;
  const secs = Number(v);
  return secs >= 1 ? Math.min(secs * 1000, MAX_MS) : null;
}

/** Arms the INVITE's Expires on a call, when it has one; the timer goes with the call. */
export function armInviteExpiry(call: SipCall, expires: string | undefined, log: Logger): void {
  const ms = inviteExpiresMs(expires);
  if (ms === null) return;
  const timer = setTimeout(() => {
    const s = call.inviteState();
    if (s.ended || s.answering || s.uas !== null || s.res.finalResponseSent) return;
    log.info({ expiresSec: ms / 1000 }, "the INVITE's Expires passed before the call was answered: 487");
    call.end(`${hangupInvite(s, log, 487)}: its Expires (${ms / 1000} s) passed`);
  }, ms);
  call.once('ended', () => clearTimeout(timer));
}

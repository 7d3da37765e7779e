// RFC 4028 session timers, as a UAS: what a 2xx to an INVITE or UPDATE says about
// the session interval and who refreshes, and when the server must act.
//
// - The request asked for a timer (Session-Expires) and the app's 2xx says nothing:
//   the server answers for it, keeping the interval and the refresher the request
//   chose; with none chosen, the UAC refreshes when it supports timers, else we do.
//   We refresh with an UPDATE (no body), so that needs the peer to allow UPDATE;
//   when it does not and the UAC cannot refresh either, no timer is used.
// - The app's 2xx carries its own Session-Expires: the app decided; it is followed.
// - refresher=uac: the peer must refresh before the interval is over (less
//   min(32 s, interval/3)), else the server ends the dialog with a BYE (§10).
// - refresher=uas: the server sends the refresh at half the interval (§10).
// The roles are those of the transaction that set the timer: as the UAC of an
// INVITE we place (a B leg), refresher=uac means us (uacSessionTimer).
import type { SipMessage } from '../message/sip-message.ts';

export type Refresher = 'uac' | 'uas';

export interface SessionTimer {
  /** Seconds. */
  interval: number;
  refresher: Refresher;
}

/** `Session-Expires: 1800;refresher=uac` → { interval, refresher } (refresher null when absent). */
export function parseSessionExpires(value: string | undefined): { interval: number; refresher: Refresher | null } | null {
  if (value === undefined) return null;
  const m = /^\s*(\d+)\s*(;.*)?$/.exec(value);
  if (!m) return null;
  const r = /;\s*refresher\s*=\s*(uac|uas)\b/i.exec(m[2] ?? '');
  return { interval: Number(m[1]), refresher: r ? (r[1].toLowerCase() as Refresher) : null };
}

function tokens(msg: SipMessage, header: string): Set<string> {
  return new Set(
    msg
      .getAll(header)
      .flatMap((v) => v.split(','))
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * Decides the session timer of a 2xx (`res`) to `req` (an INVITE or UPDATE) and
 * writes it into the response (Session-Expires, and Require: timer when the UAC
 * refreshes). Returns null when the session has no timer.
 */
export function uasSessionTimer(req: SipMessage, res: SipMessage): SessionTimer | null {
  const fromApp = parseSessionExpires(res.get('Session-Expires'));
  if (fromApp) {
    const refresher = fromApp.refresher ?? (tokens(req, 'Supported').has('timer') ? 'uac' : 'uas');
    return { interval: fromApp.interval, refresher };
  }
  const asked = parseSessionExpires(req.get('Session-Expires'));
  if (!asked) return null;
  const uacCan = tokens(req, 'Supported').has('timer');
  const weCan = tokens(req, 'Allow').has('update');
  let refresher: Refresher = asked.refresher ?? (uacCan ? 'uac' : 'uas');
  if (refresher === 'uas' && !weCan) {
    if (!uacCan) return null;
    refresher = 'uac';
  }
  if (refresher === 'uac' && !uacCan) return null; // a proxy asked; the UAC cannot refresh and the proxy will see no timer
  res.set('Session-Expires', `${asked.interval};refresher=${refresher}`);
  if (refresher === 'uac' && !tokens(res, 'Require').has('timer')) res.add('Require', 'timer');
  return { interval: asked.interval, refresher };
}

/**
 * When the server must act after a (re)freshed session, in ms: send its refresh
 * at half the interval, or give up waiting for the peer's before it expires (§10).
 */
export function sessionTimerDelayMs(interval: number, weRefresh: boolean): number {
  if (weRefresh) return (interval * 1000) / 2;
  return (interval - Math.min(32, interval / 3)) * 1000;
}

/**
 * What a 2xx to our INVITE (or to our refresh) says (§7.2): the session timer the
 * UAS chose, and whether we, the UAC of that transaction, refresh it. A 2xx
 * without Session-Expires means no timer.
 */
export function uacSessionTimer(res: SipMessage): { interval: number; weRefresh: boolean } | null {
  const se = parseSessionExpires(res.get('Session-Expires'));
  if (!se) return null;
  return { interval: se.interval, weRefresh: (se.refresher ?? 'uac') === 'uac' };
}

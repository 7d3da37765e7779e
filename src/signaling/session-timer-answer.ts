// RFC 4028 session timers decided by the app, so they hold on either server.
//
// The embedded server runs them itself (src/sip/dialog/session-timer.ts): a 422 with
// Min-SE below sip.timers.minSE, and a 2xx that names the refresher. drachtio-server
// 0.9.10 does neither for a new INVITE (src/sip-dialog-controller.cpp
// doRespondToSipRequest): it never sends a 422 to one, and it arms a timer only when the
// app's 2xx carries Session-Expires, or the request named its refresher (else its
// default-refresher "none" declines timers). Both servers follow a Session-Expires the
// app puts in its 2xx. So Parley decides in the app, with the embedded server's rules
// (uasSessionTimer), and writes the outcome into its 2xx; on the embedded server that is
// what it would have written itself.
import type Srf from 'drachtio-srf';
import { SipMessage } from '../sip/message/sip-message.ts';
import { parseSessionExpires, uasSessionTimer } from '../sip/dialog/session-timer.ts';
import type { Logger } from '../util/logger.ts';

type Send = (status: number, ...rest: unknown[]) => void;

/** Installs the INVITE middleware; register it before any handler (connectSrf does). */
export function useSessionTimerAnswer(srf: Srf, minSE: number, log: Logger): void {
  srf.use('invite', (req, res, next) => {
    const asked = parseSessionExpires(req.get('Session-Expires'));
    if (asked && asked.interval < minSE) {
      // RFC 4028 §8.1: too small an interval is refused with our Min-SE.
      log.debug({ callId: req.get('Call-ID'), interval: asked.interval, minSE }, 'session interval too small: 422');
      res.send(422, 'Session Interval Too Small', { headers: { 'Min-SE': String(minSE) } });
      return;
    }
    if (asked) answerWithTimer(req, res);
    next();
  });
}

/** Wraps res.send so a 2xx carries the session timer the embedded server would choose. */
function answerWithTimer(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
  const original = res.send.bind(res) as unknown as Send;
  (res as unknown as { send: Send }).send = (status: number, ...rest: unknown[]) => {
    if (status >= 200 && status < 300) {
      // drachtio-srf's send(status, [reason], [opts], ...): opts is the first object argument.
      let i = rest.findIndex((a) => typeof a === 'object' && a !== null);
      if (i === -1) {
        i = typeof rest[0] === 'string' ? 1 : 0;
        rest.splice(i, 0, {});
      }
      const opts = rest[i] as { headers?: Record<string, string> };
      const headers = { ...(opts.headers ?? {}) };
      if (!Object.keys(headers).some((n) => n.toLowerCase() === 'session-expires')) {
        const probe = SipMessage.request('INVITE', 'sip:placeholder');
        for (const name of ['Session-Expires', 'Supported', 'Allow']) {
          const v = req.get(name);
          if (v !== undefined) probe.add(name, v);
        }
        const out = SipMessage.response(status, 'OK');
        for (const [n, v] of Object.entries(headers)) out.add(n, v);
        if (uasSessionTimer(probe, out)) {
          headers['Session-Expires'] = out.get('Session-Expires')!;
          const require = out.getAll('Require').join(', ');
          if (require) headers.Require = require;
        }
      }
      rest[i] = { ...opts, headers };
    }
    original(status, ...rest);
  };
}

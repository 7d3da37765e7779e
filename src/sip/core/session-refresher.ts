// Keeps RFC 4028 session timers of UAS dialogs: arms the dialog's timeout when a
// 2xx to an INVITE or UPDATE set or refreshed the session, sends our refresh
// (an UPDATE without a body) when we are the refresher, and ends the dialog with
// a BYE when the peer, as refresher, let the session expire or our refresh failed.
import { callLogger } from '../../util/logger.ts';
import type { Dialog } from '../dialog/dialog.ts';
import { sessionTimerDelayMs, type SessionTimer } from '../dialog/session-timer.ts';
import { SipMessage } from '../message/sip-message.ts';
import type { CoreContext } from './core-context.ts';
import type { DialogTerminator } from './dialog-terminator.ts';
import { contactFor, newBranch, uriDestination, viaFor } from './message-factory.ts';

export const SESSION_EXPIRED_REASON = 'SIP ;cause=408 ;text="Session timer expired"';

export class SessionRefresher {
  constructor(
    private readonly ctx: CoreContext,
    private readonly terminator: DialogTerminator,
  ) {}

  /** A 2xx set (or, with null, removed) the dialog's session timer: (re)arms it from now. */
  arm(d: Dialog, t: SessionTimer | null): void {
    if (d.sessionTimeout) clearTimeout(d.sessionTimeout);
    d.sessionTimeout = null;
    d.sessionTimer = t;
    if (!t || d.state === 'terminated') return;
    d.sessionTimeout = setTimeout(() => {
      d.sessionTimeout = null;
      if (d.state === 'terminated') return;
      if (t.refresher === 'uac') {
        callLogger(this.ctx.log, d.callId).info({ dialog: d.id, interval: t.interval }, 'no session refresh from the peer: ending the dialog');
        this.terminator.bye(d, SESSION_EXPIRED_REASON);
      } else {
        this.refresh(d, t).catch((err: unknown) => {
          callLogger(this.ctx.log, d.callId).warn({ err, dialog: d.id }, 'session refresh not sent: ending the dialog');
          this.terminator.bye(d, SESSION_EXPIRED_REASON);
        });
      }
    }, sessionTimerDelayMs(t));
    d.sessionTimeout.unref();
  }

  /** We refresh: an UPDATE in the dialog; a 2xx re-arms the timer, anything else ends the dialog. */
  private async refresh(d: Dialog, t: SessionTimer): Promise<void> {
    const dest = await uriDestination(d.nextHopUri, d.transport);
    if (d.state === 'terminated') return;
    const lp = this.ctx.sender.localFor(dest.transport, dest.address);
    const skeleton = SipMessage.request('UPDATE', 'sip:placeholder')
      .add('Session-Expires', `${t.interval};refresher=uas`)
      .add('Supported', 'timer');
    const update = d.buildRequest(skeleton, contactFor(lp));
    update.prepend('Via', viaFor(lp, newBranch()));
    const log = callLogger(this.ctx.log, d.callId);
    const fail = (why: string): void => {
      if (d.state === 'terminated') return;
      log.info({ dialog: d.id, why }, 'session refresh failed: ending the dialog');
      this.terminator.bye(d, SESSION_EXPIRED_REASON);
    };
    this.ctx.txns.createClient(update, (m) => this.ctx.sender.send(dest, m.toBuffer(), d.connectionId), dest.transport === 'tcp', {
      onResponse: (res) => {
        const status = res.status ?? 0;
        if (status < 200) return;
        if (status < 300) {
          log.debug({ dialog: d.id, interval: t.interval }, 'session refreshed');
          this.arm(d, t);
        } else {
          fail(`UPDATE answered ${status}`);
        }
      },
      onTimeout: () => fail('no answer to the UPDATE'),
      onTransportError: () => fail('UPDATE not sent'),
      onTerminated: () => undefined,
    });
  }
}

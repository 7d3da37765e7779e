// Keeps RFC 4028 session timers of UAS dialogs: arms the dialog's timeout when a
// 2xx to an INVITE or UPDATE set or refreshed the session, sends our refresh
// (an UPDATE without a body) when we are the refresher, and ends the dialog with
// a BYE when the peer, as refresher, let the session expire or our refresh failed.
import { callLogger } from '../../util/logger.ts';
import type { Dialog } from '../dialog/dialog.ts';
import { sessionTimerDelayMs, uacSessionTimer } from '../dialog/session-timer.ts';
import { SipMessage } from '../message/sip-message.ts';
import type { CoreContext } from './core-context.ts';
import type { DialogTerminator } from './dialog-terminator.ts';
import { contactFor, dialogDestination, isSecure, newBranch, viaFor } from './message-factory.ts';
import { isStream } from '../transport/transport-types.ts';

export const SESSION_EXPIRED_REASON = 'SIP ;cause=408 ;text="Session timer expired"';

export class SessionRefresher {
  constructor(
    private readonly ctx: CoreContext,
    private readonly terminator: DialogTerminator,
  ) {}

  /**
   * A 2xx set or refreshed the dialog's session timer (interval in seconds; null:
   * no timer any more): (re)arms it from now. `weRefresh`: we send the refreshes,
   * else the peer must before the session expires.
   */
  arm(d: Dialog, interval: number | null, weRefresh: boolean): void {
    if (d.sessionTimeout) clearTimeout(d.sessionTimeout);
    d.sessionTimeout = null;
    if (interval === null || d.state === 'terminated') return;
    d.sessionTimeout = setTimeout(() => {
      d.sessionTimeout = null;
      if (d.state === 'terminated') return;
      if (!weRefresh) {
        callLogger(this.ctx.log, d.callId).info({ dialog: d.id, interval }, 'no session refresh from the peer: ending the dialog');
        this.terminator.bye(d, SESSION_EXPIRED_REASON);
      } else {
        this.refresh(d, interval).catch((err: unknown) => {
          callLogger(this.ctx.log, d.callId).warn({ err, dialog: d.id }, 'session refresh not sent: ending the dialog');
          this.terminator.bye(d, SESSION_EXPIRED_REASON);
        });
      }
    }, sessionTimerDelayMs(interval, weRefresh));
    d.sessionTimeout.unref();
  }

  /** We refresh: an UPDATE in the dialog (we stay the refresher); its 2xx re-arms the timer, anything else ends the dialog. */
  private async refresh(d: Dialog, interval: number): Promise<void> {
    const dest = await dialogDestination(d, this.ctx.resolver);
    if (d.state === 'terminated') return;
    const lp = this.ctx.sender.localFor(dest.transport, dest.address);
    const skeleton = SipMessage.request('UPDATE', 'sip:placeholder')
      .add('Session-Expires', `${interval};refresher=uac`)
      .add('Supported', 'timer');
    const update = d.buildRequest(skeleton, contactFor(lp, isSecure(d)));
    update.prepend('Via', viaFor(lp, newBranch()));
    const log = callLogger(this.ctx.log, d.callId);
    const fail = (why: string): void => {
      if (d.state === 'terminated') return;
      log.info({ dialog: d.id, why }, 'session refresh failed: ending the dialog');
      this.terminator.bye(d, SESSION_EXPIRED_REASON);
    };
    this.ctx.txns.createClient(update, (m) => this.ctx.sender.send(dest, m.toBuffer(), d.connectionId), isStream(dest.transport), {
      onResponse: (res) => {
        const status = res.status ?? 0;
        if (status < 200) return;
        if (status >= 300) return fail(`UPDATE answered ${status}`);
        // The UAS may change the interval, or take the refreshing over (§9); a 2xx without a timer keeps ours.
        const t = uacSessionTimer(res) ?? { interval, weRefresh: true };
        log.debug({ dialog: d.id, interval: t.interval, weRefresh: t.weRefresh }, 'session refreshed');
        this.arm(d, t.interval, t.weRefresh);
      },
      onTimeout: () => fail('no answer to the UPDATE'),
      onTransportError: () => fail('UPDATE not sent'),
      onTerminated: () => undefined,
    });
  }
}

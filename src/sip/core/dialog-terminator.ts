// BYEs the server sends by itself (no ACK for our 2xx, CANCEL after 200 OK), reported to
// the owning app as `unsolicited` so drachtio-srf tears its Dialog down.
import { callLogger } from '../../util/logger.ts';
import { SipMessage } from '../message/sip-message.ts';
import type { Dialog } from '../dialog/dialog.ts';
import { notifyUnsolicited } from './app-notifier.ts';
import { cdrStop } from './cdr-emitter.ts';
import type { CoreContext } from './core-context.ts';
import { contactFor, dialogDestination, isSecure, newBranch, viaFor } from './message-factory.ts';
import { isStream } from '../transport/transport-types.ts';

export class DialogTerminator {
  constructor(private readonly ctx: CoreContext) {}

  bye(d: Dialog, reason: string): void {
    if (d.state === 'terminated') return;
    this.ctx.dialogs.remove(d);
    this.send(d, reason).catch((err: unknown) => callLogger(this.ctx.log, d.callId).warn({ err, dialog: d.id }, 'server BYE failed'));
  }

  private async send(d: Dialog, reason: string): Promise<void> {
    const dest = await dialogDestination(d, this.ctx.resolver);
    const lp = this.ctx.sender.localFor(dest.transport, dest.address);
    const skeleton = SipMessage.request('BYE', 'sip:placeholder').add('Reason', reason);
    const bye = d.buildRequest(skeleton, contactFor(lp, isSecure(d)));
    bye.prepend('Via', viaFor(lp, newBranch()));
    const connId = d.connectionId;
    this.ctx.txns.createClient(bye, (m) => {
      this.ctx.sender.send(dest, m.toBuffer(), connId);
    }, isStream(dest.transport), {
      onResponse: () => undefined,
      onTimeout: () => callLogger(this.ctx.log, d.callId).info({ dialog: d.id }, 'no answer to server BYE'),
      onTransportError: (err) => callLogger(this.ctx.log, d.callId).info({ err, dialog: d.id }, 'server BYE not sent'),
      onTerminated: () => undefined,
    });
    const owner = this.ctx.control().connection(d.ownerId);
    if (owner) notifyUnsolicited(owner, dest.transport, lp.host, lp.port, d.id, bye.toString());
    cdrStop(this.ctx, 'application', reason.includes('ACK timeout') ? 'system-error' : 'normal-release', bye);
    callLogger(this.ctx.log, d.callId).info({ dialog: d.id, reason }, 'server ended dialog with BYE');
  }
}

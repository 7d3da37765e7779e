// Stateful proxy for srf.proxyRequest (not built yet: answers NOK so apps fail fast).
import type { ControlConnection, ControlMessage } from '../control/control-connection.ts';
import type { SipMessage } from '../message/sip-message.ts';
import type { CoreContext } from './core-context.ts';
import type { ProxyHandler } from './proxy-handler.ts';

export class ProxyCore implements ProxyHandler {
  constructor(private readonly ctx: CoreContext) {}

  handleRequest(): boolean {
    return false;
  }

  handleStrayResponse(): boolean {
    return false;
  }

  command(conn: ControlConnection, msg: ControlMessage, _sip: SipMessage): void {
    this.ctx.log.warn('proxy requested but not supported');
    conn.reply(msg.rid, 'NOK|proxy not supported');
  }

  close(): void {}
}

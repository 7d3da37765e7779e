// What the core needs from the stateful proxy (srf.proxyRequest), so the core does not depend on its internals.
import type { ControlConnection, ControlMessage } from '../control/control-connection.ts';
import type { SipMessage } from '../message/sip-message.ts';
import type { Inbound } from '../transport/transport-types.ts';

export interface ProxyHandler {
  /** A request from the network that belongs to a proxied call (a Route naming us); true when taken. */
  handleRequest(inbound: Inbound, req: SipMessage): boolean;
  handleStrayResponse(res: SipMessage): boolean;
  command(conn: ControlConnection, msg: ControlMessage, sip: SipMessage): void;
  close(): void;
}

// Formats what the server tells an app about SIP traffic (drachtio's
// BaseClient::sendSipMessageToClient): new requests, in-dialog messages, unsolicited requests.
import type { ControlConnection } from '../control/control-connection.ts';
import type { Inbound } from '../transport/transport-types.ts';
import { meta6, stackTime } from './message-factory.ts';

/** A new request from the network: `sip|network|bytes|proto|addr|port|time|txnId||recvAddr|recvPort|`. */
export function notifyNewRequest(conn: ControlConnection, inbound: Inbound, txnId: string, dialogId: string, raw: string): void {
  const s = inbound.source;
  conn.send(
    `sip|network|${Buffer.byteLength(raw)}|${s.transport}|${s.address}|${s.port}|${stackTime()}|${txnId}|${dialogId}|` +
    `${inbound.local.address}|${inbound.local.port}|\r\n${raw}`,
  );
}

/** A network message inside a dialog or a response: `sip|<meta6>|txnId|dialogId|`. */
export function notifyNetwork(conn: ControlConnection, proto: string, address: string, port: number, txnId: string, dialogId: string, raw: string): void {
  conn.send(`sip|${meta6('network', Buffer.byteLength(raw), proto, address, port)}|${txnId}|${dialogId}|\r\n${raw}`);
}

/** A request the server itself sent on the app's behalf (a BYE on ACK timeout): txnId `unsolicited`. */
export function notifyUnsolicited(conn: ControlConnection, proto: string, address: string, port: number, dialogId: string, raw: string): void {
  conn.send(`sip|${meta6('application', Buffer.byteLength(raw), proto, address, port)}|unsolicited|${dialogId}|\r\n${raw}`);
}

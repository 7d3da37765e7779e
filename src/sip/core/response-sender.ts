// Where a response goes over TCP or TLS when the place it was sent could not take it. RFC 3261
// §18.2.2: on the request's connection; that gone, on a new connection to the `received` address
// at the Via's sent-by port (responseDestination, message-factory.ts); "If that connection
// attempt fails, the server SHOULD use the procedures in [RFC 3263] for servers": RFC 3263 §5
// resolves the Via's sent-by (its address; a name's SRV records for the transport when it has
// no port, else its address records) and, a connection to one failing, tries the next. Before,
// that failure was only logged and the response lost (a caller whose connection dropped while
// it rang never heard the final response). Over UDP a response goes to its one place.
import { callLogger } from '../../util/logger.ts';
import { formatHostPort } from '../message/header-values.ts';
import type { SipMessage } from '../message/sip-message.ts';
import { isStream, type Endpoint } from '../transport/transport-types.ts';
import type { CoreContext } from './core-context.ts';

/** A connection that could not be made (refused, unreachable, timed out): another address may take it. */
const CONNECT_FAILED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL']);

const connectFailed = (err: Error): boolean => CONNECT_FAILED.has((err as Error & { code?: string }).code ?? '');

/**
 * Sends a response to `req` to `target` (its responseDestination). `onLost`: it could not be
 * delivered anywhere (a 2xx's dialog then ends, §17.2.4); a failure other than a connection that
 * could not be made (a reset of the request's own connection) is that at once, as before.
 */
export function sendResponse(ctx: CoreContext, req: SipMessage, target: { dest: Endpoint; connectionId: string | null }, data: Buffer, onLost?: () => void): void {
  if (!isStream(target.dest.transport)) {
    ctx.sender.send(target.dest, data, target.connectionId);
    return;
  }
  ctx.sender.send(target.dest, data, target.connectionId, (err) => {
    if (!connectFailed(err)) return onLost?.();
    viaAddresses(ctx, req, target.dest).then(
      (rest) => tryEach(ctx, req.callId, rest, 0, data, onLost),
      (e: unknown) => {
        callLogger(ctx.log, req.callId).info({ err: e, via: req.get('Via') }, 'response not delivered: its reconnect failed and its Via\'s sent-by does not resolve (RFC 3263 §5)');
        onLost?.();
      },
    );
  });
}

/** RFC 3263 §5: the addresses of the Via's sent-by for the response's transport, but `tried`. */
async function viaAddresses(ctx: CoreContext, req: SipMessage, tried: Endpoint): Promise<Endpoint[]> {
  const via = req.topVia;
  const tls = tried.transport === 'tls';
  const uri = `${tls ? 'sips' : 'sip'}:${formatHostPort(via.host, via.port)}${tls ? '' : `;transport=${tried.transport}`}`;
  const all = await ctx.resolver.destinations(uri, tried.transport);
  return all.filter((d) => d.address !== tried.address || d.port !== tried.port);
}

function tryEach(ctx: CoreContext, callId: string, rest: Endpoint[], i: number, data: Buffer, onLost?: () => void): void {
  const d = rest[i];
  const log = callLogger(ctx.log, callId);
  if (!d) {
    log.info({ tried: i }, 'response not delivered: no address of its Via took a connection (RFC 3261 §18.2.2, RFC 3263 §5)');
    onLost?.();
    return;
  }
  log.info({ to: `${d.address}:${d.port}`, transport: d.transport }, 'response: its connection could not be made, trying the next address of its Via (RFC 3261 §18.2.2, RFC 3263 §5)');
  ctx.sender.send(d, data, null, (err) => {
    if (connectFailed(err)) tryEach(ctx, callId, rest, i + 1, data, onLost);
    else onLost?.();
  });
}

// The one module that connects drachtio-srf. Call control gets an Srf that talks either to
// Parley's embedded SIP server or to a real drachtio-server, and cannot tell which.
import Srf from 'drachtio-srf';
import type { SipConfig } from '../config/schema.ts';
import { EmbeddedSipServer } from '../sip/embedded-server.ts';
import type { SourceBudgetCounts } from '../sip/transport/source-budget.ts';
import { componentLogger, type Logger } from '../util/logger.ts';
import { allowGivenSocket } from './local-wire.ts';
import { useSessionTimerAnswer } from './session-timer-answer.ts';

export interface SrfConnection {
  srf: Srf;
  /** The SIP listeners the server reported, e.g. `tcp/127.0.0.1:5060,udp/127.0.0.1:5060`. */
  hostports: string;
  /** The embedded SIP server's counts (null when connected to a drachtio-server). */
  sipStats(): EmbeddedSipServer['stats'] | null;
  /** Disconnects the app, then stops the embedded server if there is one. Idempotent. */
  close(): void;
  /** The embedded server's counts of sources over their budget (null with a drachtio-server). */
  overBudget(): SourceBudgetCounts | null;
  /** The embedded server's TLS listeners read their PEM files again (none with a drachtio-server). */
  renewTls(): Promise<Array<{ key: string; ok: boolean; error?: string }>>;
  /** A request to `uri` would reach the embedded server itself (EmbeddedSipServer.pointsHere); null with a drachtio-server. */
  pointsHere: ((uri: string) => Promise<boolean>) | null;
  /** Parley's handlers are installed: INVITEs go to them from now on, not 503 (see connectSrf). */
  ready(): void;
}

export interface ConnectSrfOptions {
  sip: SipConfig;
  log: Logger;
  /** INVITEs get 503 with Retry-After until ready() (Parley's start-up); else the app's handlers take them as they come. */
  gateUntilReady?: boolean;
  /** How long to wait for the control connection to authenticate. */
  connectTimeoutMs?: number;
}

export async function connectSrf(opts: ConnectSrfOptions): Promise<SrfConnection> {
  const log = componentLogger(opts.log, 'srf');
  let server: EmbeddedSipServer | null = null;
  let host = opts.sip.control.host;
  let port = opts.sip.control.port;
  if (opts.sip.server === 'embedded') {
    server = await EmbeddedSipServer.start({ sip: opts.sip, log: opts.log });
    port = server.controlPort;
    host = opts.sip.control.host;
  }
  if (server) allowGivenSocket();
  const srf = new Srf();
  // Until Parley's own handlers are installed (App.start, a second or so after the connection),
  // an INVITE would reach no handler and get drachtio-srf's default 404, which a proxy takes
  // as final: it gets 503 with Retry-After instead, which a proxy fails over on (RFC 3261 §21.5.4).
  let ready = !opts.gateUntilReady;
  if (opts.gateUntilReady) {
    srf.use('invite', (req, res, next) => {
      if (ready) return next();
      log.info({ callId: req.get('Call-ID') }, 'INVITE before Parley is ready: 503');
      res.send(503, { headers: { 'Retry-After': '1' } });
    });
  }
  // Before any other handler: session timers the same on both servers (see session-timer-answer.ts).
  useSessionTimerAnswer(srf, opts.sip.timers.minSE, log);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    try {
      srf.disconnect();
    } catch (err) {
      log.debug({ err }, 'srf disconnect');
    }
    stopReconnecting(srf);
    server?.close();
  };
  let hostports = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timeoutMs = opts.connectTimeoutMs ?? 10000;
      const why = server
        ? `no drachtio connection to the embedded server (${host}:${port}) within ${timeoutMs / 1000} s`
        : `no drachtio-server answered at ${host}:${port} within ${timeoutMs / 1000} s: is it running there, is sip.control.secret its admin secret? ` +
          '(sip.server: embedded runs Parley\'s own SIP server instead)';
      const timer = setTimeout(() => reject(new Error(`sip.control: ${why}`)), timeoutMs);
      srf.on('connect', (err: Error | null, hostport: string) => {
        clearTimeout(timer);
        if (err) {
          reject(err);
          return;
        }
        hostports = hostport;
        log.info({ hostport, server: opts.sip.server }, 'connected to SIP server');
        resolve();
      });
      srf.on('error', (err: Error) => log.warn({ err }, 'drachtio connection error'));
      // drachtio-srf's typings say connect() returns a promise; it returns the app. Events carry the outcome.
      // The embedded server in this process: its in-process end (no TCP loopback, no syscalls,
      // no event-loop turn per control message); a drachtio-server: TCP.
      const socket = server?.connectLocal();
      void (srf.connect({ host, port, secret: opts.sip.control.secret, ...(socket ? { socket } : {}) } as Srf.SrfConfig) as unknown);
    });
  } catch (err) {
    close();
    throw err;
  }
  const embedded = server;
  return { srf, hostports, close, sipStats: () => server?.stats ?? null, overBudget: () => server?.stats.overBudget ?? null, renewTls: async () => (server ? server.renewTls() : []), pointsHere: embedded ? (uri) => embedded.pointsHere(uri) : null, ready: () => {
    ready = true;
  } };
}

/** drachtio-srf's wire protocol (internal): the client's reconnect state. */
interface WireProtocolState {
  closing?: boolean;
  reconnectVars?: { retryTimer?: ReturnType<typeof setTimeout> | null };
}

/**
 * After the server went away (a drachtio-server that stopped), srf.disconnect() throws (no
 * socket: drachtio-srf asserts on it) before it marks the connection as closing, and
 * drachtio-srf goes on reconnecting for ever: a stopped Parley kept the process alive.
 */
export function stopReconnecting(srf: Srf): void {
  const wp = (srf as unknown as { _app?: { client?: { wp?: WireProtocolState } } })._app?.client?.wp;
  if (!wp) return;
  wp.closing = true;
  if (wp.reconnectVars?.retryTimer) {
    clearTimeout(wp.reconnectVars.retryTimer);
    wp.reconnectVars.retryTimer = null;
  }
}

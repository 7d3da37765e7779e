// Lets drachtio-srf connect over a socket it is given instead of one it dials: Srf.connect({
// socket }) then speaks the control protocol on that socket (the embedded server's in-process
// end, see src/sip/control/local-socket.ts) exactly as on TCP. drachtio-srf has no such option,
// so WireProtocol#connect is wrapped once: without `socket` it is the original.
import { createRequire } from 'node:module';
import type net from 'node:net';

interface WireProtocolLike {
  host?: string;
  port?: number;
  reconnectOpts: Record<string, unknown>;
  reconnectVars: Record<string, unknown>;
  initializeRetryVars(): void;
  _evalPingOpts(opts: unknown): void;
  installListeners(socket: net.Socket): void;
}

type ConnectFn = (this: WireProtocolLike, opts: Record<string, unknown>) => void;

let installed = false;

/** Installs the `socket` option of Srf.connect (idempotent). */
export function allowGivenSocket(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const srfMain = require.resolve('drachtio-srf');
  const WireProtocol = require(srfMain.replace(/srf\.js$/, 'wire-protocol.js')) as { prototype: { connect: ConnectFn } };
  const original = WireProtocol.prototype.connect;
  WireProtocol.prototype.connect = function connect(this: WireProtocolLike, opts: Record<string, unknown>): void {
    const socket = opts.socket as net.Socket | undefined;
    if (!socket) {
      original.call(this, opts);
      return;
    }
    // What the original does, with the given socket instead of net.connect(). No reconnection:
    // the socket's end is the end of the server that gave it (maxAttempts 1 stops retries).
    this.host = opts.host as string | undefined;
    this.port = opts.port as number | undefined;
    this.reconnectOpts = { maxAttempts: 1 };
    this.reconnectVars = {};
    this.initializeRetryVars();
    this._evalPingOpts(opts);
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    this.installListeners(socket);
  };
}

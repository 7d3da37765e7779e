// One drachtio-srf client on the control port. It must authenticate before anything else;
// every message it sends is handled inside a try so a bad one costs an NOK, never the server.
import { randomUUID } from 'node:crypto';
import type net from 'node:net';
import type { Logger } from '../../util/logger.ts';
import { ControlFramer, frameString } from './control-framer.ts';
import { LocalSocket } from './local-socket.ts';
import { nextId } from './message-ids.ts';

export interface ControlMessage {
  /** Token 0: the client's message id (rid). */
  rid: string;
  tokens: string[];
  /** The SIP message after the first CRLF, when there is one. */
  body: string;
}

export type ControlHandler = (conn: ControlConnection, msg: ControlMessage) => void;

/**
 * How long a client has to authenticate. drachtio-srf does it in its first message; a
 * client that connects and says nothing (or begins a frame and stops) held its socket
 * and framer for ever, and any number of them could.
 */
export const AUTH_DEADLINE_MS = 5000;

export class ControlConnection {
  readonly id: string;
  private authed = false;
  private closed = false;
  /** Runs until the client authenticates (AUTH_DEADLINE_MS), then the connection is destroyed. */
  private authTimer: NodeJS.Timeout | null;
  /** Framed messages waiting for the end of this event-loop turn (see send). */
  private pending: string[] = [];
  private flushScheduled = false;
  private readonly framer = new ControlFramer();
  /** An app in this process (ControlServer.connectLocal): messages go out at once. */
  private readonly local: boolean;

  constructor(
    private readonly socket: net.Socket,
    private readonly log: Logger,
    private readonly handler: ControlHandler,
    private readonly onClose: (c: ControlConnection) => void,
    authDeadlineMs = AUTH_DEADLINE_MS,
  ) {
    this.id = `ctl-${randomUUID().slice(0, 8)}`;
    this.authTimer = setTimeout(() => {
      this.authTimer = null;
      log.warn({ conn: this.id, deadlineMs: authDeadlineMs }, 'control client did not authenticate in time, disconnected');
      this.destroy();
    }, authDeadlineMs);
    this.authTimer.unref();
    this.local = socket instanceof LocalSocket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => log.debug({ err, conn: this.id }, 'control socket error'));
    socket.on('close', () => this.close());
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    for (const f of this.framer.push(chunk)) {
      if (f.kind === 'error') {
        this.log.warn({ conn: this.id, reason: f.reason }, 'control framing error, disconnecting');
        this.close();
        return;
      }
      const crlf = f.payload.indexOf('\r\n');
      const leader = crlf === -1 ? f.payload : f.payload.slice(0, crlf);
      const tokens = leader.split('|');
      const msg: ControlMessage = { rid: tokens[0], tokens, body: crlf === -1 ? '' : f.payload.slice(crlf + 2) };
      try {
        this.handler(this, msg);
      } catch (err) {
        this.log.error({ err, conn: this.id, cmd: tokens[1] }, 'control message failed');
        this.reply(msg.rid, `NOK|${(err as Error).message.replace(/[|\r\n]/g, ' ')}`);
      }
      if (this.closed) return;
    }
  }

  /**
   * Sends `id|payload`. Over TCP, messages are collected until the end of the event-loop turn and
   * written as one string: the datagrams libuv reads in one poll each end in their own tick, so corking
   * per tick still cost one write syscall per SIP message under load; this is one per turn.
   */
  send(payload: string): void {
    if (this.closed) return;
    if (this.local) {
      // In-process: no syscall to save, and the app reads it in a microtask, ahead of
      // whatever else this turn of the loop still has to run.
      this.socket.write(frameString(`${nextId()}|${payload}`));
      return;
    }
    this.pending.push(frameString(`${nextId()}|${payload}`));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.pending.length) return;
    const data = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** An asynchronous reply: `uuid|response|rid|data`. */
  reply(rid: string, data: string): void {
    this.send(`response|${rid}|${data}`);
  }

  get authenticated(): boolean {
    return this.authed;
  }

  /** An app in this process (no descriptor held): never closed to make room. */
  get isLocal(): boolean {
    return this.local;
  }

  /** The client gave the secret: it may stay. */
  authenticate(): void {
    this.authed = true;
    this.clearAuthTimer();
  }

  private clearAuthTimer(): void {
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearAuthTimer();
    // Flush what is queued (an `NO|incorrect secret` reply), then drop the connection.
    this.flush();
    this.socket.setTimeout(2000, () => this.socket.destroy()); // a peer that never reads cannot hold it open
    this.socket.end(() => this.socket.destroy());
    this.onClose(this);
  }

  /** Immediate close, for server shutdown. */
  destroy(): void {
    this.close();
    this.socket.destroy();
  }
}

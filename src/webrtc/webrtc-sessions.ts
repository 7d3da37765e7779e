// The browser sessions of every conference room (webrtc-session.ts), by id:
// the only factory of sessions. A session needs an open room; participants
// join its roster like a SIP leg (unique by URI, generated or impersonated
// identities as for dial-outs) and leave it when their session closes (the
// room then closes if it was the last one, as when a SIP leg leaves). A room
// that closes closes its sessions. Owned by Parley (closed before the
// conferences and the media engine).
import { randomBytes } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { Conference, ConferenceManager } from '../call/conference/conference-manager.ts';
import { RosterConflictError } from '../call/conference/roster.ts';
import type { WebRtcConfig } from '../config/schema.ts';
import type { MediaEngine } from '../media-plane/media-engine.ts';
import type { Logger } from '../util/logger.ts';
import { joinsRoster, WebRtcSessionError, type WebRtcRole } from './webrtc-roles.ts';
import { WebRtcSession, type WebRtcCloseReason } from './webrtc-session.ts';

export interface CreateWebRtcSession {
  room: string;
  role: WebRtcRole;
  /** whisper: the leg (roster leg id) that hears the browser. */
  targetLegId?: string;
  /** participant/barge: how the roster shows it (as for dial-outs); default normal under a generated URI. */
  identity?: 'normal' | 'generated' | 'impersonate';
  /** normal: the URI the roster shows (default sip:<legId>@webrtc.invalid). */
  uri?: string;
  displayName?: string;
  /** impersonate: who it joins as. */
  as?: { uri: string; displayName?: string };
  /** Who asks (the API token's name): media.webrtc.maxSessionsPerToken counts per owner. */
  owner?: string;
}

export interface WebRtcSessionsDeps {
  media: MediaEngine;
  conferences: ConferenceManager;
  config: WebRtcConfig;
  /** security.maxLegsPerRoom (0: no limit): browser participants count like legs. */
  maxLegsPerRoom: number;
  /** In a cluster, this node's id: session ids name it (webrtc-session.ts sessionNode). */
  node?: string;
  log: Logger;
}

export class WebRtcSessions {
  private readonly sessions = new Map<string, WebRtcSession>();
  /** Sessions held (open or being made) per owner, and in all: media.webrtc.maxSessions(PerToken). */
  private readonly held = new Map<string, number>();
  private heldTotal = 0;
  /** Sessions refused at a cap since start (metrics). */
  readonly refused = { perToken: 0, global: 0 };
  /** At most one refusal line per 5 s: a flood of requests must not become a flood of log lines. */
  private lastRefusalLogMs = -Infinity;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly deps: WebRtcSessionsDeps) {
    this.log = deps.log;
    deps.conferences.on('roomclose', this.onRoomClose);
  }

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): WebRtcSession | undefined {
    return this.sessions.get(id);
  }

  /** The open sessions (of one room, when named). */
  list(room?: string): WebRtcSession[] {
    return [...this.sessions.values()].filter((s) => room === undefined || s.roomName === room);
  }

  /** The session behind a roster leg id (a browser participant), if any. */
  byLeg(room: string, legId: string): WebRtcSession | undefined {
    for (const s of this.sessions.values()) if (s.roomName === room && s.legId === legId) return s;
    return undefined;
  }

  async create(req: CreateWebRtcSession): Promise<WebRtcSession> {
    if (this.closed) throw new WebRtcSessionError(503, 'unavailable', 'shutting down');
    if (!this.deps.config.enabled) throw new WebRtcSessionError(503, 'unavailable', 'browsers are disabled (media.webrtc.enabled: false)');
    const conf = await this.deps.conferences.get(req.room).catch(() => undefined);
    if (!conf || conf.room.isClosed) throw new WebRtcSessionError(404, 'not_found', `no room '${req.room}'`);
    let target: string | null = null;
    if (req.role === 'whisper') {
      if (!req.targetLegId) throw new WebRtcSessionError(400, 'bad_request', 'body.targetLegId: required for a whisper', 'body.targetLegId');
      if (!conf.roster.get(req.targetLegId)) throw new WebRtcSessionError(404, 'not_found', `no leg '${req.targetLegId}' in room '${req.room}'`);
      target = req.targetLegId;
    } else if (req.targetLegId !== undefined) {
      throw new WebRtcSessionError(400, 'bad_request', 'body.targetLegId: only a whisper has a target', 'body.targetLegId');
    }
    const legId = `web-${randomBytes(6).toString('hex')}`;
    const owner = req.owner ?? 'default';
    // Held from here, before anything is awaited: concurrent requests cannot overshoot the caps.
    this.hold(owner);
    const onRoster = joinsRoster(req.role);
    if (onRoster) {
      try {
        this.joinRoster(conf, legId, req);
      } catch (err) {
        this.release(owner);
        throw err;
      }
    }
    let session: WebRtcSession;
    try {
      const hub = await this.deps.media.hubFor(conf.room.id);
      const recv = await hub.router.createWebRtcTransport(this.transportOptions(legId, 'recv'));
      const send = req.role === 'listen' ? null : await hub.router.createWebRtcTransport(this.transportOptions(legId, 'send')).catch((err: unknown) => {
        recv.close();
        throw err;
      });
      if (this.closed || conf.room.isClosed) {
        recv.close();
        send?.close();
        throw new WebRtcSessionError(404, 'not_found', `room '${req.room}' closed`);
      }
      session = new WebRtcSession({
        role: req.role,
        roomName: conf.name,
        room: conf.room,
        hub,
        sendTransport: send,
        recvTransport: recv,
        legId,
        node: this.deps.node,
        targetLegId: target,
        timeoutMs: this.deps.config.timeoutSec * 1000,
        isRoomClosed: () => conf.room.isClosed,
        log: this.log.child({ room: conf.name, leg: legId, role: req.role }),
        onClose: (s, reason) => {
          this.release(owner);
          this.sessionClosed(conf, s, reason);
        },
      });
    } catch (err) {
      this.release(owner);
      if (onRoster) this.leaveRoster(conf, legId, 'failed');
      if (err instanceof WebRtcSessionError) throw err;
      // The room closed while its hub or the transports were made (mediasoup then names what it could not find).
      if (this.closed || conf.room.isClosed) throw new WebRtcSessionError(404, 'not_found', `room '${req.room}' closed`);
      this.log.warn({ err, room: req.room }, 'browser session not made');
      throw new WebRtcSessionError(503, 'unavailable', `the room's media hub is not available: ${(err as Error).message}`);
    }
    if (onRoster) {
      // The roster's talking flag (and the API's talking events), as for a SIP leg.
      const onTalk = (id: string, talking: boolean): void => {
        if (id === legId) conf.roster.setTalking(legId, talking);
      };
      session.hubEvents.on('inputtalk', onTalk);
      session.once('close', () => session.hubEvents.off('inputtalk', onTalk));
    }
    this.sessions.set(session.id, session);
    this.log.info({ room: conf.name, leg: legId, role: req.role, target }, 'browser session open');
    return session;
  }

  /** Closes every session. Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.conferences.off('roomclose', this.onRoomClose);
    for (const s of [...this.sessions.values()]) s.close('shutdown');
    this.sessions.clear();
  }

  /** Counts a session against media.webrtc.maxSessions and maxSessionsPerToken, or refuses it (429). */
  private hold(owner: string): void {
    const { maxSessions, maxSessionsPerToken } = this.deps.config;
    const mine = this.held.get(owner) ?? 0;
    if (maxSessionsPerToken > 0 && mine >= maxSessionsPerToken) {
      this.refused.perToken++;
      this.logRefusal({ owner, open: mine, limit: maxSessionsPerToken }, 'browser session refused: media.webrtc.maxSessionsPerToken');
      throw new WebRtcSessionError(429, 'too_many_sessions', `token '${owner}' holds ${mine} browser sessions, media.webrtc.maxSessionsPerToken is ${maxSessionsPerToken}: close one (DELETE /webrtc/:sessionId) first`);
    }
    if (maxSessions > 0 && this.heldTotal >= maxSessions) {
      this.refused.global++;
      this.logRefusal({ owner, open: this.heldTotal, limit: maxSessions }, 'browser session refused: media.webrtc.maxSessions');
      throw new WebRtcSessionError(429, 'too_many_sessions', `${this.heldTotal} browser sessions are open, media.webrtc.maxSessions is ${maxSessions}`);
    }
    this.held.set(owner, mine + 1);
    this.heldTotal++;
  }

  private logRefusal(fields: Record<string, unknown>, msg: string): void {
    const now = performance.now();
    if (now - this.lastRefusalLogMs < 5000) return;
    this.lastRefusalLogMs = now;
    this.log.warn({ ...fields, refused: this.refused }, msg);
  }

  private release(owner: string): void {
    const mine = this.held.get(owner) ?? 0;
    if (mine <= 1) this.held.delete(owner);
    else this.held.set(owner, mine - 1);
    if (mine > 0) this.heldTotal--;
  }

  private transportOptions(legId: string, direction: 'send' | 'recv'): ms.WebRtcTransportOptions {
    const c = this.deps.config;
    const listenInfos: ms.TransportListenInfo[] = [
      { protocol: 'udp', ip: c.listenIp, portRange: c.portRange, ...(c.announcedAddress ? { announcedAddress: c.announcedAddress } : {}) },
    ];
    if (c.tcp) listenInfos.push({ protocol: 'tcp', ip: c.listenIp, portRange: c.portRange, ...(c.announcedAddress ? { announcedAddress: c.announcedAddress } : {}) });
    // A browser checks consent about every 5 s (RFC 7675): ICE says 'disconnected' after the timeout without one.
    return { listenInfos, iceConsentTimeout: c.timeoutSec, appData: { leg: legId, direction } };
  }

  private joinRoster(conf: Conference, legId: string, req: CreateWebRtcSession): void {
    const max = this.deps.maxLegsPerRoom;
    if (max > 0 && conf.roster.size >= max) throw new WebRtcSessionError(503, 'unavailable', `room ${conf.name} is full (${max} legs)`);
    if (req.identity === 'impersonate' && !req.as) throw new WebRtcSessionError(400, 'bad_request', 'body.as: required when identity is impersonate', 'body.as');
    try {
      conf.roster.join({
        legId,
        callId: legId,
        uri: req.uri ?? `sip:${legId}@webrtc.invalid`,
        displayName: req.displayName ?? 'Browser',
        identity: req.identity ?? 'normal',
        as: req.as,
      });
    } catch (err) {
      if (err instanceof RosterConflictError) throw new WebRtcSessionError(409, 'conflict', err.message);
      throw err;
    }
  }

  private leaveRoster(conf: Conference, legId: string, reason: string): void {
    if (!conf.roster.get(legId)) return;
    conf.roster.leave(legId, reason);
    // As for a SIP leg (ConferenceManager): the last one out closes the room.
    if (conf.roster.size === 0 && !conf.room.isClosed) conf.room.close();
  }

  private sessionClosed(conf: Conference, s: WebRtcSession, reason: WebRtcCloseReason): void {
    if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    if (joinsRoster(s.role)) this.leaveRoster(conf, s.legId, `browser ${reason}`);
  }

  private readonly onRoomClose = (conf: Conference): void => {
    for (const s of [...this.sessions.values()]) if (s.room === conf.room) s.close('room-closed');
  };
}

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
}

export interface WebRtcSessionsDeps {
  media: MediaEngine;
  conferences: ConferenceManager;
  config: WebRtcConfig;
  /** security.maxLegsPerRoom (0: no limit): browser participants count like legs. */
  maxLegsPerRoom: number;
  log: Logger;
}

export class WebRtcSessions {
  private readonly sessions = new Map<string, WebRtcSession>();
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
    const onRoster = joinsRoster(req.role);
    if (onRoster) this.joinRoster(conf, legId, req);
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
        targetLegId: target,
        timeoutMs: this.deps.config.timeoutSec * 1000,
        isRoomClosed: () => conf.room.isClosed,
        log: this.log.child({ room: conf.name, leg: legId, role: req.role }),
        onClose: (s, reason) => this.sessionClosed(conf, s, reason),
      });
    } catch (err) {
      if (onRoster) this.leaveRoster(conf, legId, 'failed');
      if (err instanceof WebRtcSessionError) throw err;
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

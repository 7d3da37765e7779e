// Named conference rooms. A call joins with a link: a pair of legs over loopback
// RTP, one in the call's own room and one in the conference room, so that the
// caller keeps its SIP leg (no re-INVITE) and the conference mixes it like any
// other leg. The roster is unique by URI (see roster.ts); a room closes when its
// last leg leaves.
import type { MediaEngine } from '../../media-plane/media-engine.ts';
import type { MediaRoom } from '../../media-plane/media-room.ts';
import type { MediaLeg } from '../../media-plane/media-leg.ts';
import { MediaClosedError } from '../../media-plane/media-errors.ts';
import type { PromptLibrary } from '../../playback/prompt-library.ts';
import type { Logger } from '../../util/logger.ts';
import { TypedEmitter } from '../../util/typed-emitter.ts';
import type { ConferenceJoiner } from '../call-deps.ts';
import type { ReplacesId } from '../refer-request.ts';
import type Srf from 'drachtio-srf';
import { toLibrarySpec } from '../play-spec.ts';
import { promptRate } from '../prompt-rate.ts';
import { MEDIA_THREAD_FAILED_REASON } from '../reasons.ts';
import type { ConferenceJoinOptions, PlaySpec } from '../ports.ts';
import { CALLER_LEG, type SipCall } from '../sip-call.ts';
import { dialOut, type DialOutOptions, type DialOutSettings } from './dial-out.ts';
import { callMember, type MemberConsultation, MemberTransfers, type TransferringMember } from './member-transfer.ts';
import { Roster, type RosterEntry } from './roster.ts';
import { isPlaceLeg, MemberPlace } from './member-replacing.ts';

export interface Conference {
  name: string;
  room: MediaRoom;
  roster: Roster;
  /** The ownership epoch of the room's cluster lease (null: Parley runs alone). */
  epoch: number | null;
}

/** A cluster's room leases (src/cluster/): a room opens only on the node that holds its lease. */
export interface RoomOwnershipPort {
  /** Takes (or joins) the lease; resolves to its epoch; rejects when another node owns the room or the cluster is unreachable. */
  acquireRoom(name: string): Promise<number>;
  releaseRoom(name: string): void;
  /** Whether this node still holds the open room's lease (false: cut off from Redis past the lease, or the room was taken). */
  holdsRoom?(name: string): boolean;
  /** The node that owns the room now, as Redis says (null: nobody, or Redis unreachable). */
  ownerOf?(name: string): Promise<string | null>;
}

/** In a cluster: a join to a room open here whose lease this node no longer holds (503; the calls already in it go on). */
export class RoomLeaseLostError extends Error {
  override name = 'RoomLeaseLostError';
  readonly status = 503;
}

export type ConferenceManagerEvents = {
  roomopen: [conference: Conference];
  roomclose: [conference: Conference];
};

/** In a cluster: joins a call to a room another node owns (src/cluster/room-pipe.ts). */
export type RemoteJoinPort = (call: SipCall, options: ConferenceJoinOptions, owner: string) => Promise<{ left: Promise<string> }>;

/** A join past security.maxLegsPerRoom: answered 503 before the call is answered. */
export class RoomFullError extends Error {
  override name = 'RoomFullError';
  readonly status = 503;
}

/**
 * A join that ended before it was made: its room closed (DELETE /rooms/:name; 404, as a dial
 * into it answers) or its leg was kicked (480) while its legs were being made. A refusal, not a
 * failure of Parley's: before the answer it is the caller's final response, after it a BYE.
 */
export class JoinEndedError extends Error {
  override name = 'JoinEndedError';
  constructor(
    message: string,
    readonly status: 404 | 480,
  ) {
    super(message);
  }
}

function joinRefusal(call: SipCall, conf: Conference, err: unknown): unknown {
  if (!(err instanceof MediaClosedError)) return err;
  // The call's own room closed: the call ended meanwhile, and nobody is answered any more.
  if (call.room.isClosed) return new JoinEndedError(`the call ended during its join to room ${conf.name}`, 480);
  const roomClosed = conf.room.isClosed;
  return new JoinEndedError(roomClosed ? `room ${conf.name} closed during the join` : `kicked from room ${conf.name} during the join`, roomClosed ? 404 : 480);
}

export class ConferenceManager extends TypedEmitter<ConferenceManagerEvents> implements ConferenceJoiner {
  private readonly conferences = new Map<string, Promise<Conference>>();
  /** Rooms the control API opened (POST /rooms): a dial into one that fails leaves it open. */
  private readonly opened = new WeakSet<Conference>();
  private closed = false;
  private ownership: RoomOwnershipPort | null = null;
  private remoteJoin: RemoteJoinPort | null = null;
  /**
   * The call (of this Parley, or of another cluster node) an attended transfer's Replaces names
   * (consultation.ts), for the legs dialled into rooms (a caller that joined looks through its
   * own deps); null: none looked for.
   */
  consultation: ((id: ReplacesId) => Promise<MemberConsultation | null>) | null = null;
  /** The calls of members that joined here, by Call-ID, for an INVITE with Replaces naming one (member-replacing.ts). */
  private readonly replaceable = new Map<string, (id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse) => void>();

  constructor(
    private readonly media: MediaEngine,
    private readonly prompts: PromptLibrary,
    private readonly sampleRate: number,
    private readonly log: Logger,
    /** Legs a room may hold (hidden ones included); 0: no limit. */
    private readonly maxLegsPerRoom = 0,
    /** media.mixer.narrowband: a room of G.711 legs hears its tones made at 8 kHz (prompt-rate.ts). */
    private readonly narrowband = false,
  ) {
    super(log);
  }

  /** In a cluster: rooms open only under a lease, released when they close. */
  setOwnership(ownership: RoomOwnershipPort | null, remoteJoin: RemoteJoinPort | null = null): void {
    this.ownership = ownership;
    this.remoteJoin = remoteJoin;
  }

  /** Who answers an INVITE whose Replaces names the dialog of a member's call `callId` (null: no member's). */
  replacingTaker(callId: string): ((id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse) => void) | null {
    return this.replaceable.get(callId) ?? null;
  }

  get names(): string[] {
    return [...this.conferences.keys()];
  }

  async get(name: string): Promise<Conference | undefined> {
    return this.conferences.get(name);
  }

  /** Opens (or finds) a room without a leg in it (control API); it closes when its last leg leaves, or by closeRoom. */
  async openRoom(name: string): Promise<Conference> {
    const conf = await this.open(name);
    this.opened.add(conf);
    return conf;
  }

  /** Closes a room: every leg in it leaves. */
  async closeRoom(name: string): Promise<boolean> {
    const conf = await this.conferences.get(name)?.catch(() => undefined);
    if (!conf) return false;
    conf.room.close();
    return true;
  }

  /**
   * Dials a leg out into a room (opened if needed); resolves once it answered. `transfers:
   * members`: its REFERs dial their targets into the room in its place (member-transfer.ts).
   */
  async dialOut(name: string, settings: DialOutSettings, options: DialOutOptions & { transfers?: 'members' | 'refuse' }): Promise<{ legId: string; callId: string }> {
    const conf = await this.open(name);
    this.assertRoomForOneMore(conf);
    const log = this.log.child({ room: name });
    const takeRefers = options.transfers === 'members' ? (member: TransferringMember, entry: RosterEntry) => this.memberTransfers(member, conf, entry, log) : undefined;
    // A dial that never joined leaves a room the API opened as it was (empty, waiting for its legs); one it opened itself closes.
    return dialOut(conf, settings, { ...options, takeRefers }, log, (joined) => {
      if (joined || !this.opened.has(conf)) this.closeIfEmpty(conf);
    });
  }

  /** The REFERs of `member` in `conf`: each target dialled into the room (keeping the dial-outs' own transfers). */
  private memberTransfers(member: TransferringMember, conf: Conference, entry: RosterEntry, log: Logger): MemberTransfers {
    return new MemberTransfers(member, conf, entry, (s, o) => this.dialOut(conf.name, s, { ...o, transfers: 'members' }), log, this.consultation);
  }

  async join(call: SipCall, options: ConferenceJoinOptions): Promise<{ left: Promise<string> }> {
    let conf: Conference;
    try {
      conf = await this.open(options.room);
    } catch (err) {
      // Owned by another node (a join after an answer, so no redirect): through a pipe to it.
      const owner = (err as { owner?: unknown }).owner;
      if (this.remoteJoin && typeof owner === 'string') return this.remoteJoin(call, options, owner);
      throw err;
    }
    if (this.ownership?.holdsRoom?.(conf.name) === false) {
      // Another node took the room while this one could not renew its lease: the join goes there.
      const owner = await this.ownership.ownerOf?.(conf.name).catch(() => null);
      if (owner && this.remoteJoin) return this.remoteJoin(call, options, owner);
      throw new RoomLeaseLostError(`room ${conf.name}: this node could not renew its lease; no new join here now`);
    }
    this.assertRoomForOneMore(conf);
    const legId = `${call.callId}`;
    const entry = conf.roster.join({
      legId,
      callId: call.callId,
      uri: call.from.uri,
      displayName: call.from.displayName,
      identity: options.identity,
      as: options.as,
    });
    // A member's blind transfer dials its target into the room (`transfers: members`); taken
    // from now on, so a REFER right behind the answer finds it too.
    if (options.transfers === 'members') {
      const transfers = this.memberTransfers(callMember(call), conf, entry, call.log.child({ room: conf.name }));
      call.referTaker = (req, res) => transfers.take(req, res);
    }
    try {
      return await this.link(call, conf, entry, options);
    } catch (err) {
      call.referTaker = null;
      conf.roster.leave(legId, 'failed');
      this.closeIfEmpty(conf);
      throw err;
    }
  }

  /** Closes every conference room. Synchronous, idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.conferences.values()) p.then((c) => c.room.close()).catch(() => undefined);
    this.conferences.clear();
  }

  private async link(
    call: SipCall,
    conf: Conference,
    entry: RosterEntry,
    options: ConferenceJoinOptions,
  ): Promise<{ left: Promise<string> }> {
    const { near, leg } = await this.makeLink(call, conf, entry);
    if (entry.identity === 'generated') leg.hide(true);
    if (options.muted) {
      leg.mute(true);
      conf.roster.setMuted(entry.legId, true);
    }
    leg.on('talk', (t) => conf.roster.setTalking(entry.legId, t));
    // A caller that holds the call (it may send music on hold) is left out of the room's mix
    // until it resumes: muted there, whatever the API's mute says meanwhile (roster.silenced).
    const onHold = (legId: string, direction: 'sendonly' | 'inactive' | null): void => {
      if (!isPlaceLeg(legId)) return;
      conf.roster.setHeld(entry.legId, direction);
      if (!leg.isClosed) leg.mute(conf.roster.silenced(entry.legId));
    };
    call.on('hold', onHold);
    const heldAlready = call.holds.of(CALLER_LEG);
    if (heldAlready) onHold(CALLER_LEG, heldAlready);
    if (options.joinTone) this.playToRoom(conf, options.joinTone);
    // The member's dialog, then that of each party that replaced it, names this place (member-replacing.ts).
    const places: string[] = [call.callId];
    const take = (id: ReplacesId, req: Srf.SrfRequest, res: Srf.SrfResponse): void => place.take(conf, entry, id, req, res);
    const place = new MemberPlace(call, (callId) => {
      places.push(callId);
      this.replaceable.set(callId, take);
    });
    this.replaceable.set(call.callId, take);
    this.log.info({ callId: call.callId, room: conf.name, leg: entry.legId, identity: entry.identity, visible: conf.roster.visible.length }, 'joined conference');
    const left = new Promise<string>((resolve) => {
      let done = false;
      const leave = (why: string): void => {
        if (done) return;
        done = true;
        call.off('ended', onEnded);
        call.off('hold', onHold);
        call.referTaker = null;
        for (const p of places) this.replaceable.delete(p);
        near.close();
        leg.close();
        conf.roster.leave(entry.legId, why);
        if (options.leaveTone && conf.roster.size > 0) this.playToRoom(conf, options.leaveTone);
        this.closeIfEmpty(conf);
        resolve(why);
      };
      const onEnded = (reason: string): void => leave(reason);
      call.on('ended', onEnded);
      leg.once('close', (reason) => {
        // The conference's media thread died: the participant's call ends as a call in that room would.
        if (conf.room.closedBy === 'media-thread-died') call.endForCause(MEDIA_THREAD_FAILED_REASON, 'the media thread running the conference failed');
        leave(`leg ${reason}`);
      });
      // The call ended while its legs were being made (its caller hung up right behind the
      // answer): its 'ended' came before this listened, and it leaves now (it stayed on the
      // roster for ever, its legs and the room with it).
      const endedAlready = call.endedBecause;
      if (endedAlready !== null) leave(endedAlready);
    });
    return { left };
  }

  /** The link's two legs, answered; a kick or the room's close meanwhile closes both and refuses the join (JoinEndedError). */
  private async makeLink(call: SipCall, conf: Conference, entry: RosterEntry): Promise<{ near: MediaLeg; leg: MediaLeg }> {
    let near: MediaLeg | null = null;
    let leg: MediaLeg | null = null;
    try {
      const out = await call.room.createOutgoingLeg({ id: `conf-${conf.name}` });
      near = out.leg;
      const far = await conf.room.createLeg(out.offer, { id: entry.legId });
      leg = far.leg;
      await near.applyAnswer(far.answer);
      // Kicked (DELETE /rooms/:name/legs/:leg closes the room's leg) or its room closed while the
      // answer was applied: nothing listened to the leg's 'close' yet, so it is looked at now.
      if (leg.isClosed) throw new MediaClosedError(`leg ${leg.id} closed while joining`);
      return { near, leg };
    } catch (err) {
      near?.close();
      leg?.close();
      throw joinRefusal(call, conf, err);
    }
  }

  private open(name: string): Promise<Conference> {
    if (this.closed) return Promise.reject(new Error('conferences are closed'));
    let p = this.conferences.get(name);
    if (!p) {
      const ownership = this.ownership;
      p = (async (): Promise<Conference> => {
        const epoch = ownership ? await ownership.acquireRoom(name) : null;
        let room: MediaRoom;
        try {
          room = await this.media.createRoom(`conf-${name}`);
        } catch (err) {
          ownership?.releaseRoom(name);
          throw err;
        }
        const conf: Conference = { name, room, roster: new Roster(name), epoch };
        room.once('close', () => {
          if (this.conferences.get(name) === p) this.conferences.delete(name);
          ownership?.releaseRoom(name);
          this.safeEmit('roomclose', conf);
        });
        this.safeEmit('roomopen', conf);
        return conf;
      })();
      this.conferences.set(name, p);
      p.catch(() => this.conferences.delete(name));
    }
    return p;
  }

  private assertRoomForOneMore(conf: Conference): void {
    if (this.maxLegsPerRoom > 0 && conf.roster.size >= this.maxLegsPerRoom) {
      throw new RoomFullError(`room ${conf.name} is full (${this.maxLegsPerRoom} legs)`);
    }
  }

  private closeIfEmpty(conf: Conference): void {
    if (conf.roster.size === 0) conf.room.close();
  }

  private playToRoom(conf: Conference, spec: PlaySpec): void {
    try {
      conf.room.play(this.prompts.createPlayer(toLibrarySpec(spec), { sampleRate: promptRate(conf.room, { sampleRate: this.sampleRate, narrowband: this.narrowband }), log: this.log }));
    } catch (err) {
      this.log.warn({ err }, 'conference tone failed');
    }
  }
}

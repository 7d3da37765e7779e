// A caller answered on this node (after an IVR or a PIN menu) joins a room
// another node owns, through a mediasoup PipeTransport between the two nodes'
// room hubs (MediaEngine.hubFor): the call room's mix Producer (Opus: the
// caller's voice) is consumed on a pipe and produced on the owner's hub, where
// hub.consume() makes it an input of the room; that input's own mix (mix-minus,
// RoomHub.produceInputMix, which needs an Opus input) comes back the same way
// into the caller's room as an input that only the caller leg hears.
// The owner's side answers POST /cluster/pipes (cluster-routes.ts); the pipe
// closes when the call ends (DELETE /cluster/pipes/:id).
// What comes back is the caller's own mix (RoomHub.produceInputMix: the room
// without its voice).
// On the owner the piped caller is on the room's roster (its identity as on a
// local join, `remoteNode` naming the caller's node; leg id `pipe:<node>:<Call-ID>`),
// so it is in the room's leg.joined/leg.left events and in GET /rooms of every
// node. When the owner ends the pipe (the room closes, the leg is kicked, the
// owner stops) it tells the caller's node (POST /cluster/pipes/:id/ended), whose
// join then ends as a local one does when its room closes: the conference step
// is over and the call is hung up (BYE). A pipe whose RTP stopped either way
// for media.rtpTimeoutSec (both nodes alive: a firewall, a lost media thread)
// ends as one to a lost node does: the side that noticed ends it
// (pipe-media-watch.ts), the caller's BYE carries the media timeout's Reason.
import type * as ms from 'mediasoup/types';
import type { ConferenceJoinOptions } from '../call/ports.ts';
import type { SipCall } from '../call/sip-call.ts';
import type { Conference, ConferenceManager } from '../call/conference/conference-manager.ts';
import type { MediaEngine } from '../media-plane/media-engine.ts';
import type { RoomHub } from '../media-plane/room-hub.ts';
import { peerRequest } from './peer-request.ts';
import { MEDIA_TIMEOUT_REASON, ROOM_OWNER_LOST_REASON } from '../call/reasons.ts';
import { PIPE_MEDIA_TIMEOUT, PipeMediaWatch } from './pipe-media-watch.ts';
import type { PipeSettings } from './attach-cluster.ts';
import type { Logger } from '../util/logger.ts';
import type { ClusterNode, PipePeer } from './cluster-node.ts';

/** Why a pipe ends when the node that owns its room is lost (ClusterNode.checkPipePeers). */
export const OWNER_LOST = 'room owner lost';

export interface PipeOffer {
  room: string;
  id: string;
  ip: string;
  port: number;
  producerId: string;
  rtpParameters: ms.RtpParameters;
  /** Who joins (for the owner's roster), as on a local join. */
  callId?: string;
  uri?: string;
  displayName?: string;
  identity?: ConferenceJoinOptions['identity'];
  as?: ConferenceJoinOptions['as'];
  /** The caller's node and its API, told when the owner ends the pipe; its run (a restarted node is another). */
  node?: string;
  api?: string;
  run?: string;
}

export interface PipeAnswer {
  ip: string;
  port: number;
  producerId: string;
  rtpParameters: ms.RtpParameters;
}

interface AcceptedPipe {
  room: string;
  legId: string;
  transport: ms.PipeTransport;
  conf: Conference;
  hub: RoomHub;
  /** The caller's node API (told when this side ends the pipe). */
  api: string | null;
  /** The caller's node (its death drops the pipe: dropNode) and its run. */
  node: string | null;
  run: string | null;
}

/** The owner's side: pipes by id, each with its transport and roster entry. */
export class PipeAcceptor {
  private readonly pipes = new Map<string, AcceptedPipe>();
  /** Pipes being set up (on the roster already, not yet in `pipes`), by id: a kick or the caller's node's DELETE meanwhile waits for one. */
  private readonly settingUp = new Map<string, { room: string; legId: string; done: Promise<void> }>();

  constructor(
    private readonly media: MediaEngine,
    private readonly conferences: ConferenceManager,
    private readonly listenIp: string,
    private readonly log: Logger,
    /** The cluster's API token, to tell a caller's node its pipe ended. */
    private readonly token = '',
    /** media.rtpTimeoutSec in ms (0: never): no RTP from the caller's node this long ends its pipe. */
    private readonly timeoutMs = 0,
  ) {}

  /**
   * The pipe behind a roster leg of a room (for a kick). The piped caller is on the roster from
   * the start of its set-up (a handful of mediasoup calls): one being set up is waited for, so a
   * kick then ends it rather than finding no such leg (404). Null: no pipe, or its set-up failed.
   */
  async byLeg(room: string, legId: string): Promise<string | null> {
    for (const s of this.settingUp.values()) if (s.room === room && s.legId === legId) await s.done;
    for (const [id, p] of this.pipes) if (p.room === room && p.legId === legId) return id;
    return null;
  }

  async accept(o: PipeOffer): Promise<PipeAnswer> {
    const conf = await this.conferences.openRoom(o.room);
    const legId = `pipe:${o.id}`;
    let settled = (): void => undefined;
    const setUp = { room: o.room, legId, done: new Promise<void>((resolve) => (settled = resolve)) };
    this.settingUp.set(o.id, setUp);
    try {
      return await this.setUp(o, conf, legId);
    } finally {
      if (this.settingUp.get(o.id) === setUp) this.settingUp.delete(o.id);
      settled();
    }
  }

  private async setUp(o: PipeOffer, conf: Awaited<ReturnType<ConferenceManager['openRoom']>>, legId: string): Promise<PipeAnswer> {
    // On the roster first: a URI already in the room refuses the pipe (409), as a local join is refused.
    if (o.uri && !conf.roster.get(legId)) {
      conf.roster.join({ legId, callId: o.callId ?? o.id, uri: o.uri, displayName: o.displayName, identity: o.identity ?? 'normal', as: o.as, remoteNode: o.node });
    }
    let transport: ms.PipeTransport;
    let hub: RoomHub;
    try {
      hub = await this.media.hubFor(conf.room.id);
      transport = await hub.router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: this.listenIp } });
    } catch (err) {
      conf.roster.leave(legId, 'failed');
      throw err;
    }
    try {
      await transport.connect({ ip: o.ip, port: o.port });
      const producer = await transport.produce({ id: o.producerId, kind: 'audio', rtpParameters: o.rtpParameters, appData: { pipe: o.id } });
      const inputId = `pipe:${o.id}`;
      await hub.consume(producer.id, inputId);
      // The piped caller's own mix: the room without its voice (mix-minus), Opus, from the hub.
      const own = await hub.produceInputMix(inputId);
      transport.observer.once('close', () => own.close());
      const mix = await transport.consume({ producerId: own.id });
      const old = this.pipes.get(o.id);
      if (old) {
        this.pipes.delete(o.id);
        old.transport.close();
      }
      this.pipes.set(o.id, { room: o.room, legId, transport, conf, hub, api: o.api ?? null, node: o.node ?? null, run: o.run ?? null });
      // Nothing from the caller's node for the media timeout: ended, its node told why (its caller's BYE says so).
      new PipeMediaWatch(transport, this.timeoutMs, (seconds) => {
        if (this.pipes.get(o.id)?.transport !== transport) return;
        this.log.warn({ room: o.room, pipe: o.id, node: o.node, seconds }, 'no RTP from the piped caller\'s node: the pipe ends');
        this.end(o.id, PIPE_MEDIA_TIMEOUT);
      }, this.log);
      // Its voice activity on the roster, as a local leg's.
      const onTalk = (input: string, talking: boolean): void => {
        if (input === inputId) conf.roster.setTalking(legId, talking);
      };
      hub.on('inputtalk', onTalk);
      transport.observer.once('close', () => hub.off('inputtalk', onTalk));
      // The transport closing on this side (the room or its hub closed, a worker died): the caller's node is told.
      transport.observer.once('close', () => {
        if (this.pipes.get(o.id)?.transport === transport) this.end(o.id, conf.room.isClosed ? 'room closed' : 'pipe closed');
      });
      conf.room.once('close', () => {
        if (this.pipes.get(o.id)?.transport === transport) this.end(o.id, 'room closed');
      });
      this.log.info({ room: o.room, pipe: o.id, leg: legId, from: `${o.ip}:${o.port}`, node: o.node }, 'caller piped into the room from another node');
      return { ip: transport.tuple.localAddress ?? this.listenIp, port: transport.tuple.localPort, producerId: mix.producerId, rtpParameters: mix.rtpParameters };
    } catch (err) {
      transport.close();
      conf.roster.leave(legId, 'failed');
      throw err;
    }
  }

  /**
   * The caller's node says the call left: the pipe closes; the room closes when nobody else is in
   * it. A pipe still being set up (its caller hung up meanwhile) is waited for, then closed: it
   * would otherwise be set up after this and stay, on the roster, for ever.
   */
  async close(id: string): Promise<boolean> {
    await this.settingUp.get(id)?.done;
    const p = this.pipes.get(id);
    if (!p) return false;
    this.pipes.delete(id);
    p.transport.close();
    p.conf.roster.leave(p.legId, 'left');
    this.closeIfEmpty(p);
    return true;
  }

  /** Mutes (or unmutes) a piped caller in the room (its roster entry follows); one on hold stays out of the mix. */
  setMuted(id: string, muted: boolean): boolean {
    return this.silence(id, (p) => p.conf.roster.setMuted(p.legId, muted));
  }

  /**
   * A piped caller went on hold (`direction`) or came off it (null), its node says: as a local
   * member, it is left out of the room's mix meanwhile (it may send music on hold), its roster
   * entry says so, and the API's mute is kept for after.
   */
  setHeld(id: string, direction: 'sendonly' | 'inactive' | null): boolean {
    return this.silence(id, (p) => {
      p.conf.roster.setHeld(p.legId, direction);
      this.log.info({ room: p.room, pipe: id, held: direction }, direction ? 'piped caller on hold: out of the mix' : 'piped caller resumed');
    });
  }

  /** `change` a pipe's roster entry, then its input follows: out of the mix while muted or held (roster.silenced). */
  private silence(id: string, change: (p: AcceptedPipe) => void): boolean {
    const p = this.pipes.get(id);
    if (!p || p.hub.isClosed) return false;
    change(p);
    p.hub.updateInput(`pipe:${id}`, { muted: p.conf.roster.silenced(p.legId) });
    return true;
  }

  /** The nodes this node's pipes come from (their callers' nodes), each once, with their API and run. */
  get callerNodes(): Map<string, PipePeer> {
    const out = new Map<string, PipePeer>();
    for (const p of this.pipes.values()) if (p.node) out.set(p.node, { api: p.api, run: p.run });
    return out;
  }

  /**
   * The caller's node `node` is lost (killed, or cut off from Redis and its peers): its pipes
   * leave their rooms (nobody is told: the node is gone), and a room left empty closes.
   */
  dropNode(node: string): number {
    let n = 0;
    for (const [id, p] of [...this.pipes]) {
      if (p.node !== node) continue;
      this.end(id, 'node-lost', false);
      n++;
    }
    return n;
  }

  /** Ends a pipe from this side (kicked, room closed, stop): off the roster, and the caller's node is told (`tell`). */
  end(id: string, reason: string, tell = true): boolean {
    const p = this.pipes.get(id);
    if (!p) return false;
    this.pipes.delete(id);
    p.transport.close();
    p.conf.roster.leave(p.legId, reason);
    this.log.info({ room: p.room, pipe: id, reason }, 'piped caller released by the room owner');
    if (p.api && tell) {
      peerRequest(`${p.api}/cluster/pipes/${encodeURIComponent(id)}/ended`, this.token, 'POST', { reason })
        .then((res) => {
          if (res.status !== 200) this.log.warn({ pipe: id, status: res.status }, 'the caller\'s node did not take the end of its pipe');
        })
        .catch((err: unknown) => this.log.warn({ err, pipe: id }, 'the caller\'s node could not be told its pipe ended'));
    }
    this.closeIfEmpty(p);
    return true;
  }

  /** Every pipe ends (the owner stops): the callers' nodes are told. Synchronous, idempotent. */
  closeAll(): void {
    for (const id of [...this.pipes.keys()]) this.end(id, 'room owner stopped');
  }

  /** The room closes when nobody is left in it (its local legs and pipes are all on its roster). */
  private closeIfEmpty(p: AcceptedPipe): void {
    if (!p.conf.room.isClosed && p.conf.roster.size === 0) p.conf.room.close();
  }
}

/** The caller's side: joins `call` to a room `owner` holds; resolves with when it left. */
export async function pipeCallToOwner(
  node: ClusterNode,
  { media, listenIp, token, timeoutMs }: PipeSettings,
  call: SipCall,
  options: ConferenceJoinOptions,
  owner: string,
  log: Logger,
): Promise<{ left: Promise<string> }> {
  const [entry, addr] = await Promise.all([node.registry.entry(owner), node.registry.address(owner)]);
  if (!entry) throw new Error(`room ${options.room}: its owner ${owner} is not live`);
  // Asked directly, should its entry expire: its run tells a restart (this pipe then is gone with it).
  const peer: PipePeer = { api: entry.api, run: addr?.run ?? null };
  const hub = await media.hubFor(call.room.id);
  // What goes to the owner is this call room's mix (Opus): the caller's voice and what is played to the room.
  // The owner's mix for the caller comes back as an input only the caller hears, so it stays out of that mix.
  const producer = hub.mixProducer;
  const transport = await hub.router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: listenIp } });
  const id = `${node.nodeId}:${call.callId}`;
  // The owner may end the pipe (a kick) as soon as it has answered, before this side is done with
  // its part: kept, and acted on once it is.
  let endedEarly: string | null = null;
  node.outgoingPipes.set(id, {
    owner,
    peer,
    end: (why) => {
      endedEarly = why;
    },
  });
  const forget = (): void => {
    node.outgoingPipes.delete(id);
    transport.close();
    peerRequest(`${entry.api}/cluster/pipes/${encodeURIComponent(id)}`, token, 'DELETE').catch((err: unknown) =>
      log.warn({ err, owner }, 'the room owner did not take the pipe down'),
    );
  };
  let unanswered = false; // no answer at all to the offer: its node killed or cut off meanwhile
  try {
    const out = await transport.consume({ producerId: producer.id });
    const offer: PipeOffer = {
      room: options.room,
      id,
      ip: transport.tuple.localAddress ?? listenIp,
      port: transport.tuple.localPort,
      producerId: producer.id,
      rtpParameters: out.rtpParameters,
      callId: call.callId,
      uri: call.from.uri,
      displayName: call.from.displayName,
      identity: options.identity,
      as: options.as,
      node: node.nodeId,
      api: node.config.apiAddress,
      run: node.run,
    };
    const res = await peerRequest(`${entry.api}/cluster/pipes`, token, 'POST', offer, 5000).catch((err: unknown) => {
      unanswered = true;
      throw err;
    });
    if (res.status !== 200) throw new Error(`the room owner ${owner} refused the pipe: ${res.status} ${await res.text()}`);
    const answer = (await res.json()) as PipeAnswer;
    await transport.connect({ ip: answer.ip, port: answer.port });
    const mix = await transport.produce({ id: answer.producerId, kind: 'audio', rtpParameters: answer.rtpParameters });
    await hub.consume(mix.id, `pipe-mix:${options.room}`, { audience: [call.leg.id] });
  } catch (err) {
    forget();
    // Its owner lost while the pipe was set up (no answer to the offer, or found lost meanwhile): the call
    // ends as on a loss after the set-up, its BYE (503 before an answer) saying why, not as Parley's failure (500).
    if (unanswered || endedEarly === OWNER_LOST) {
      log.warn({ room: options.room, owner, err }, 'the room owner gave no answer to the pipe: the call ends');
      call.endForCause(ROOM_OWNER_LOST_REASON, `the room's owner node ${owner} was lost while the pipe was set up`);
      throw Object.assign(new Error(`room ${options.room}: its owner ${owner} gave no answer to the pipe`, { cause: err }), { status: 503 });
    }
    throw err;
  }
  log.info({ room: options.room, owner }, 'joined a room on another node through a pipe');
  // The caller's holds go to the owner, in order, which leaves it out of the room's mix meanwhile.
  let told = Promise.resolve();
  const onHold = (legId: string, direction: 'sendonly' | 'inactive' | null): void => {
    if (legId !== call.leg.id) return;
    told = told.then(() =>
      peerRequest(`${entry.api}/cluster/pipes/${encodeURIComponent(id)}/hold`, token, 'POST', { direction }).then(
        (res) => {
          if (res.status !== 200) log.warn({ owner, status: res.status, held: direction }, 'the room owner did not take the caller\'s hold');
        },
        (err: unknown) => log.warn({ err, owner, held: direction }, 'the room owner could not be told of the caller\'s hold'),
      ),
    );
  };
  call.on('hold', onHold);
  const heldAlready = call.holds.of(call.leg.id);
  if (heldAlready) onHold(call.leg.id, heldAlready);
  const left = new Promise<string>((resolve) => {
    const done = (why: string): void => {
      call.off('hold', onHold);
      forget();
      resolve(why);
    };
    const onEnded = (reason: string): void => done(reason);
    call.once('ended', onEnded);
    // The owner ended it (room closed, kicked): as a local join whose room closed. The owner lost
    // (ClusterNode.checkPipePeers), or no RTP from this side reached it: the call ends at once,
    // its BYE saying why.
    const ownerEnded = (why: string): void => {
      call.off('hold', onHold);
      node.outgoingPipes.delete(id);
      log.info({ room: options.room, owner, why }, 'the room owner ended the pipe');
      transport.close();
      resolve(why);
      if (why === OWNER_LOST || why === PIPE_MEDIA_TIMEOUT) {
        call.off('ended', onEnded);
        if (why === OWNER_LOST) call.endForCause(ROOM_OWNER_LOST_REASON, `the room's owner node ${owner} was lost`);
        else call.endForCause(MEDIA_TIMEOUT_REASON, `media timeout: the room's owner node ${owner} got no RTP through the pipe`);
      }
    };
    node.outgoingPipes.set(id, { owner, peer, end: ownerEnded });
    if (endedEarly !== null) ownerEnded(endedEarly);
    // The call ended while the pipe was being set up (its caller hung up right behind the answer):
    // its 'ended' came before this listened; the pipe is taken down now (it stayed, with the
    // caller on the owner's roster).
    else if (call.endedBecause !== null) done(call.endedBecause);
    transport.observer.once('close', () => resolve('pipe closed'));
    // Nothing from the owner for the media timeout: the call ends (BYE with the media timeout's
    // Reason), and its 'ended' takes the pipe down on the owner (DELETE), its ghost off the roster.
    new PipeMediaWatch(transport, timeoutMs, (seconds) => {
      if (node.outgoingPipes.get(id)?.end !== ownerEnded) return;
      log.warn({ room: options.room, owner, seconds }, 'no RTP from the room owner through the pipe: the call ends');
      call.endForCause(MEDIA_TIMEOUT_REASON, `media timeout: no RTP from the room's owner node ${owner} for ${seconds} s`);
    }, log);
  });
  return { left };
}

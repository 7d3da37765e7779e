// What runs inside a media thread: its rooms (LocalMediaRoom, exactly as on
// the main thread with media.threads: 0), driven by MediaCommands and
// reporting MediaEvents. Sockets, latching, SRTP, RTCP, jitter buffers,
// codecs, the mixer or two-party forwarder, DTMF, talk detection and media
// timeouts all run here; players and recorders stay on the main thread and
// reach the room through SharedArrayBuffer rings (thread-sources.ts).
import { Resampler } from '../../mixer/codecs/resampler.ts';
import { componentLogger, type Logger } from '../../util/logger.ts';
import { SdpNegotiationError } from '../media-errors.ts';
import type { EndpointView, ParticipantView } from '../media-api.ts';
import { LocalMediaRoom } from '../media-room.ts';
import type { LocalMediaLeg } from '../media-leg.ts';
import { PortAllocator } from '../port-allocator.ts';
import { HubPublisher } from '../hub-publisher.ts';
import { MediaClosedError } from '../media-errors.ts';
import type { LegInfo, LegSnapshot, MediaCommand, MediaEvent, MediaThreadInit, RoomSnapshot, SerializedError } from './protocol.ts';
import { RingSink, RingSource } from './thread-sources.ts';
import { TickRing } from './tick-ring.ts';

const STATS_INTERVAL_MS = 1000;

interface RoomState {
  room: LocalMediaRoom;
  /** Ring slot numbers of the room's legs, as main gave them. */
  slots: Map<string, number>;
  sinks: Map<number, RingSink>;
  /** The room's hub publisher, from 'hub.open' until 'hub.close' or the room's close. */
  publisher: HubPublisher | null;
}

/** The hub and the room's publisher talk over loopback (as on the main thread). */
const HUB_IP = '127.0.0.1';

export class MediaThreadRuntime {
  private readonly rooms = new Map<string, RoomState>();
  private readonly sources = new Map<number, RingSource>();
  private readonly ports: PortAllocator;
  private readonly statsTimer: NodeJS.Timeout;
  /** Slots for what main did not name (hub inputs): above any leg's. */
  private nextExtraSlot = 1 << 20;
  /**
   * True while a close main asked for runs (room.close, leg.close): main closed its
   * proxies and finished their sources first, so the close events that follow here
   * (room.closed, leg.closed, source.done, leg.talk) would only be dropped there.
   */
  private closingForMain = false;

  constructor(
    private readonly init: MediaThreadInit,
    private readonly post: (e: MediaEvent) => void,
    private readonly log: Logger,
  ) {
    this.ports = new PortAllocator(init.ports, { ip4: init.config.rtpIp, ip6: init.config.rtpIp6 });
    this.statsTimer = setInterval(() => this.postStats(), STATS_INTERVAL_MS);
  }

  handle(cmd: MediaCommand): void {
    try {
      this.dispatch(cmd);
    } catch (err) {
      if ('req' in cmd) this.post({ type: 'reply', req: cmd.req, ok: false, error: serialize(err) });
      else this.log.warn({ err, cmd: cmd.type }, 'media command failed');
    }
  }

  private dispatch(cmd: MediaCommand): void {
    switch (cmd.type) {
      case 'room.create':
        try {
          this.createRoom(cmd.roomId);
        } catch (err) {
          this.post({ type: 'room.failed', roomId: cmd.roomId, error: serialize(err) });
        }
        return;
      case 'room.close': {
        const room = this.rooms.get(cmd.roomId)?.room;
        return this.forMain(() => room?.close(cmd.reason));
      }
      case 'room.playOut':
        return this.answer(cmd.req, async () => this.state(cmd.roomId).room.playOutNow(cmd.maxTicks));
      case 'leg.create':
        return this.answer(cmd.req, async () => {
          const s = this.state(cmd.roomId);
          s.slots.set(cmd.legId, cmd.slot);
          const { leg } = await s.room.createLeg(cmd.offer, { id: cmd.legId, inbandDtmf: cmd.inbandDtmf, ...(cmd.recordOnlyMs !== null ? { recordOnlyMs: cmd.recordOnlyMs } : {}) });
          this.wireLeg(s.room.id, leg);
          return legInfo(leg);
        });
      case 'leg.createOutgoing':
        return this.answer(cmd.req, async () => {
          const s = this.state(cmd.roomId);
          s.slots.set(cmd.legId, cmd.slot);
          const { leg } = await s.room.createOutgoingLeg({ id: cmd.legId, srtp: cmd.srtp, family: cmd.family, inbandDtmf: cmd.inbandDtmf, ...(cmd.recordOnlyMs !== null ? { recordOnlyMs: cmd.recordOnlyMs } : {}) });
          this.wireLeg(s.room.id, leg);
          return legInfo(leg);
        });
      case 'leg.applyOffer':
        return this.answer(cmd.req, async () => {
          const leg = this.leg(cmd.roomId, cmd.legId);
          await leg.applyOffer(cmd.offer);
          return legInfo(leg);
        });
      case 'leg.applyAnswer':
        return this.answer(cmd.req, async () => {
          const leg = this.leg(cmd.roomId, cmd.legId);
          await leg.applyAnswer(cmd.answer);
          return legInfo(leg);
        });
      case 'leg.makeReoffer':
        return this.answer(cmd.req, async () => {
          const leg = this.leg(cmd.roomId, cmd.legId);
          await leg.makeReoffer(cmd.direction);
          return legInfo(leg);
        });
      case 'leg.role': {
        const leg = this.rooms.get(cmd.roomId)?.room.leg(cmd.legId);
        if (!leg || leg.isClosed) return;
        const r = cmd.role;
        if (r.muted !== undefined) leg.mute(r.muted);
        if (r.deaf !== undefined) leg.deafen(r.deaf);
        if (r.hidden !== undefined) leg.hide(r.hidden);
        if (r.audience !== undefined) leg.speakTo(r.audience);
        if (r.inband !== undefined) leg.detectInbandDtmf(r.inband);
        if (r.dtmfTo !== undefined) leg.relayDtmfTo(r.dtmfTo);
        return;
      }
      case 'leg.digit':
        return this.rooms.get(cmd.roomId)?.room.leg(cmd.legId)?.sendDigit(cmd.digit, cmd.durationMs, cmd.inband);
      case 'leg.watch':
        return this.rooms.get(cmd.roomId)?.room.leg(cmd.legId)?.watchMedia();
      case 'leg.close': {
        const leg = this.rooms.get(cmd.roomId)?.room.leg(cmd.legId);
        return this.forMain(() => leg?.close());
      }
      case 'source.play': {
        const s = this.rooms.get(cmd.roomId);
        const src = new RingSource(cmd.sourceId, cmd.ring, cmd.sampleRate, (r, stopped) => {
          this.sources.delete(r.id);
          if (!this.closingForMain) this.post({ type: 'source.done', sourceId: r.id, stopped });
        });
        const leg = cmd.legId === null ? null : s?.room.leg(cmd.legId);
        if (!s || s.room.isClosed || (cmd.legId !== null && (!leg || leg.isClosed))) {
          src.stop();
          return;
        }
        this.sources.set(src.id, src);
        if (leg) leg.play(src);
        else s.room.play(src);
        return;
      }
      case 'source.clear':
        return this.sources.get(cmd.sourceId)?.clear();
      case 'sink.add': {
        const s = this.rooms.get(cmd.roomId);
        if (!s || s.room.isClosed) return new TickRing(cmd.ring).detach(); // never written: main may use it again
        const sink = new RingSink(cmd.sinkId, cmd.ring, cmd.sampleRate, (legId, k) => this.slotOf(s, legId, k), this.log.child({ room: cmd.roomId }));
        s.sinks.set(cmd.sinkId, sink);
        s.room.addSink(sink);
        return;
      }
      case 'sink.remove': {
        const s = this.rooms.get(cmd.roomId);
        const sink = s?.sinks.get(cmd.sinkId);
        if (!s || !sink) return;
        s.sinks.delete(cmd.sinkId);
        s.room.removeSink(sink);
        sink.detach();
        return;
      }
      case 'hub.open':
        return this.answer(cmd.req, async () => {
          const s = this.state(cmd.roomId);
          const roomId = cmd.roomId;
          const p = await HubPublisher.open({
            ip: HUB_IP,
            log: componentLogger(this.log, 'hub-publisher', { room: roomId }),
            requestLeg: (legId, codec) => this.post({ type: 'hub.requestLeg', roomId, legId, codec }),
            inputTalk: (id, talking) => this.post({ type: 'hub.inputTalk', roomId, id, talking }),
          });
          if (s.room.isClosed) {
            p.close();
            throw new MediaClosedError(`room ${roomId} closed while its hub was made`);
          }
          if (s.publisher) s.room.detachPublisher(s.publisher);
          s.publisher = p;
          return p.local;
        });
      case 'hub.control': {
        const s = this.rooms.get(cmd.roomId);
        const p = s?.publisher;
        if (!s || !p || s.room.isClosed) return;
        const c = cmd.call;
        switch (c.op) {
          case 'start':
            p.start(c.link);
            s.room.attachPublisher(p);
            return;
          case 'setLeg':
            return p.setLeg(c.legId, c.stream);
          case 'setMixConsumed':
            return p.setMixConsumed(c.on);
          case 'setLegConsumed':
            return p.setLegConsumed(c.legId, c.on);
          case 'addInput':
            return p.addInput(c.input);
          case 'removeInput':
            return p.removeInput(c.id);
          case 'setInputOutput':
            return p.setInputOutput(c.id, c.output);
          case 'updateInput':
            return p.updateInput(c.id, c.change);
        }
        return;
      }
      case 'hub.close': {
        const s = this.rooms.get(cmd.roomId);
        if (!s?.publisher) return;
        s.room.detachPublisher(s.publisher);
        s.publisher = null;
        return;
      }
      case 'stats':
        return this.postStats();
      case 'shutdown':
        return this.shutdown();
      case 'crash':
        setImmediate(() => {
          throw new Error('media thread crash requested (test command)');
        });
        return;
      case 'stall':
        // From the check phase, as a GC pause between two I/O passes: the timers (the late ticks) run before the sockets are read.
        setImmediate(() => {
          const until = performance.now() + cmd.ms;
          while (performance.now() < until);
        });
        return;
    }
  }

  /** Every room closed (and with it every leg's sockets), the stats timer stopped: the thread's loop can end. */
  private shutdown(): void {
    clearInterval(this.statsTimer);
    this.forMain(() => {
      for (const s of [...this.rooms.values()]) s.room.close('engine-closed');
    });
    this.shutDown?.();
  }

  /** Called once shutdown() has closed everything (media-thread.ts closes its port there). */
  shutDown: (() => void) | null = null;

  private createRoom(id: string): void {
    if (this.rooms.has(id)) throw new Error(`room ${id} already exists`);
    const room = new LocalMediaRoom(id, {
      ports: this.ports,
      cname: this.init.cname,
      config: this.init.config,
      log: this.log.child({ room: id }),
      roomClosed: (r) => {
        const s = this.rooms.get(r.id);
        if (s?.room !== r) return;
        this.rooms.delete(r.id);
        // Its recorders' rings are written no more: main may use them again.
        for (const sink of s.sinks.values()) sink.detach();
        s.sinks.clear();
        s.publisher?.close(); // opened but not yet attached (an attached one the room closed itself)
        s.publisher = null;
      },
    });
    const state: RoomState = { room, slots: new Map(), sinks: new Map(), publisher: null };
    this.rooms.set(id, state);
    room.on('close', (reason) => {
      if (!this.closingForMain) this.post({ type: 'room.closed', roomId: id, reason });
    });
    // A leg's slot outlives it: its tail (leg-tails.ts) is written under it after its close.
  }

  private wireLeg(roomId: string, leg: LocalMediaLeg): void {
    const legId = leg.id;
    leg.on('dtmf', (event) => this.post({ type: 'leg.dtmf', roomId, legId, event }));
    leg.on('talk', (talking) => {
      // A leg main is closing says it stopped talking: main's proxy is gone already.
      if (!(this.closingForMain && leg.isClosed)) this.post({ type: 'leg.talk', roomId, legId, talking });
    });
    leg.on('inboundssrc', (ssrc) => this.post({ type: 'leg.inboundssrc', roomId, legId, ssrc }));
    leg.on('mediatimeout', (seconds) => this.post({ type: 'leg.mediatimeout', roomId, legId, seconds }));
    leg.on('close', (reason) => {
      if (!this.closingForMain) this.post({ type: 'leg.closed', roomId, legId, reason });
    });
  }

  /** Runs a close main asked for without echoing its events (see closingForMain). */
  private forMain(close: () => void): void {
    const outer = this.closingForMain;
    this.closingForMain = true;
    try {
      close();
    } finally {
      this.closingForMain = outer;
    }
  }

  private slotOf(s: RoomState, legId: string, sink: RingSink): number {
    let slot = s.slots.get(legId);
    if (slot === undefined) {
      slot = this.nextExtraSlot++;
      s.slots.set(legId, slot);
      this.post({ type: 'sink.slot', sinkId: sink.id, slot, legId });
    }
    return slot;
  }

  private answer(req: number, run: () => Promise<unknown>): void {
    run().then(
      (value) => this.post({ type: 'reply', req, ok: true, value }),
      (err: unknown) => this.post({ type: 'reply', req, ok: false, error: serialize(err) }),
    );
  }

  private state(roomId: string): RoomState {
    const s = this.rooms.get(roomId);
    if (!s) throw Object.assign(new Error(`room ${roomId} is not open`), { name: 'MediaClosedError' });
    return s;
  }

  private leg(roomId: string, legId: string): LocalMediaLeg {
    const leg = this.state(roomId).room.leg(legId);
    if (!leg) throw Object.assign(new Error(`leg ${legId} is not open`), { name: 'MediaClosedError' });
    return leg;
  }

  private postStats(): void {
    const rooms: RoomSnapshot[] = [];
    for (const { room } of this.rooms.values()) {
      const legs: LegSnapshot[] = [];
      for (const id of room.legIds) {
        const leg = room.leg(id)!;
        legs.push({ legId: id, endpoint: endpointView(leg), rtcpStats: leg.rtcpStats ? { ...leg.rtcpStats } : null, participant: participantView(leg) });
      }
      rooms.push({ roomId: room.id, sampleRate: room.mixerSampleRate, mixerStats: { ...room.mixerStats }, forwardStats: { ...room.forwardStats }, legs });
    }
    this.post({ type: 'stats', rooms, portsInUse: this.ports.used, resampledFrames: Resampler.framesRun });
  }
}

export function endpointView(leg: LocalMediaLeg): EndpointView | null {
  const ep = leg.endpoint;
  if (!ep) return null;
  return { port: ep.port, stats: { ...ep.stats }, local: ep.local, hasRtcpPort: ep.hasRtcpPort, destination: ep.destination };
}

function participantView(leg: LocalMediaLeg): ParticipantView | null {
  const p = leg.mixerParticipant;
  if (!p) return null;
  return { muted: p.muted, deaf: p.deaf, talking: p.talking, jitterStats: { ...p.jitterStats }, codec: p.codec, inputSsrc: p.inputSsrc, encoded: p.encoded, silenceFilled: p.silenceFilled, forwarded: p.forwarded, malformedPayloads: p.malformedPayloads, opusRecovered: p.opusRecovered };
}

function legInfo(leg: LocalMediaLeg): LegInfo {
  return { ssrc: leg.ssrc, localSdp: leg.localSdp, media: leg.media ? structuredClone(leg.media) : null, endpoint: endpointView(leg), participant: participantView(leg) };
}

function serialize(err: unknown): SerializedError {
  if (err instanceof SdpNegotiationError) return { name: err.name, message: err.message, warning: err.warning };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

// A room that runs in a media thread, as call control sees it on the main
// thread: the same API as LocalMediaRoom (media-api.ts). Commands go to the
// thread; what call control reads synchronously (stats, the mixer's rate) is
// the snapshot the thread posts about once a second.
import { randomUUID } from 'node:crypto';
import type { CodecName } from '../../mixer/codecs/audio-codec.ts';
import type { FrameSource, TickSink } from '../../mixer/frames.ts';
import type { ClockStats } from '../../mixer/mix-clock.ts';
import type { TwoPartyStats } from '../../mixer/two-party-forwarder.ts';
import type { Logger } from '../../util/logger.ts';
import { TypedEmitter } from '../../util/typed-emitter.ts';
import type { CreateLegOptions, CreateOutgoingLegOptions, MediaLeg, MediaRoom, MediaRoomCloseReason, MediaRoomEvents } from '../media-api.ts';
import { MediaClosedError } from '../media-errors.ts';
import type { LegInfo, MediaEvent, RoomSnapshot } from './protocol.ts';
import type { MediaThreadHandle } from './media-thread-handle.ts';
import { RemoteMediaLeg } from './remote-media-leg.ts';
import { sdpHosts } from '../sdp-hosts.ts';

type RoomEvent = Extract<MediaEvent, { roomId: string }>;

export class RemoteMediaRoom extends TypedEmitter<MediaRoomEvents> implements MediaRoom {
  readonly id: string;
  readonly codecs: readonly CodecName[];
  private readonly legs = new Map<string, RemoteMediaLeg>();
  /** Ring slot → leg id, kept for the room's life (a recorder may drain a closed leg's last ticks). */
  private readonly slotNames = new Map<number, string>();
  private nextSlot = 1;
  /** @internal Set by MediaEngine while the room has a hub: the thread's publisher asks for a leg's Producer. */
  hubRequestLeg: ((legId: string, codec: CodecName) => void) | null = null;
  /** @internal Likewise: a hub input (a browser) started or stopped talking. */
  hubInputTalk: ((id: string, talking: boolean) => void) | null = null;
  private closed = false;
  private closeReason: MediaRoomCloseReason = 'closed';
  private rate: number;
  private clock: ClockStats = { ticks: 0, late: 0, skipped: 0, maxLateMs: 0, busyMs: 0 };
  private forward: TwoPartyStats = { mode: 'mixed', forwarded: 0, forwardTicks: 0, toForward: 0, toMixed: 0 };

  /** @internal Use MediaEngine.createRoom(). */
  constructor(
    id: string,
    codecs: readonly CodecName[],
    initialRate: number,
    readonly thread: MediaThreadHandle,
    private readonly log: Logger,
    private readonly roomClosed: (room: RemoteMediaRoom) => void,
  ) {
    super(log);
    this.id = id;
    this.codecs = codecs;
    this.rate = initialRate;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get closedBy(): MediaRoomCloseReason | null {
    return this.closed ? this.closeReason : null;
  }

  get size(): number {
    return this.legs.size;
  }

  get legIds(): string[] {
    return [...this.legs.keys()];
  }

  leg(id: string): MediaLeg | undefined {
    return this.legs.get(id);
  }

  get mixerSampleRate(): number {
    return this.rate;
  }

  get mixerStats(): ClockStats {
    return this.clock;
  }

  get forwardStats(): Readonly<TwoPartyStats> {
    return this.forward;
  }

  /** @internal Port pairs its legs hold. */
  get portsInUse(): number {
    let n = 0;
    for (const l of this.legs.values()) if (l.endpoint) n++;
    return n;
  }

  async createLeg(offer: string, options: CreateLegOptions = {}): Promise<{ leg: MediaLeg; answer: string }> {
    const leg = this.newLeg(options);
    try {
      // Host names in c= are resolved here, on the main thread, under one limit for all rooms.
      const resolved = await sdpHosts.resolve(offer);
      this.assertOpen();
      if (leg.isClosed) throw new MediaClosedError(`leg ${leg.id} closed during negotiation`);
      const info = await this.thread.request<LegInfo>({ type: 'leg.create', roomId: this.id, legId: leg.id, slot: leg.slot, offer: resolved, inbandDtmf: options.inbandDtmf ?? false, recordOnlyMs: options.recordOnlyMs ?? null });
      this.assertOpen();
      if (leg.isClosed) throw new MediaClosedError(`leg ${leg.id} closed during negotiation`);
      leg.applyInfo(info);
      return { leg, answer: info.localSdp };
    } catch (err) {
      leg.close();
      throw err;
    }
  }

  async createOutgoingLeg(options: CreateOutgoingLegOptions = {}): Promise<{ leg: MediaLeg; offer: string }> {
    const leg = this.newLeg(options);
    try {
      const info = await this.thread.request<LegInfo>({ type: 'leg.createOutgoing', roomId: this.id, legId: leg.id, slot: leg.slot, srtp: options.srtp ?? false, family: options.family ?? 4, inbandDtmf: options.inbandDtmf ?? false, recordOnlyMs: options.recordOnlyMs ?? null });
      this.assertOpen();
      if (leg.isClosed) throw new MediaClosedError(`leg ${leg.id} closed while making an offer`);
      leg.applyInfo(info);
      return { leg, offer: info.localSdp };
    } catch (err) {
      leg.close();
      throw err;
    }
  }

  play(source: FrameSource): void {
    this.assertOpen();
    this.thread.playSource(this, null, source, source.sampleRate ?? this.rate);
  }

  addSink(sink: TickSink): void {
    this.assertOpen();
    this.thread.addSink(this, sink, sink.sampleRate ?? this.rate);
  }

  removeSink(sink: TickSink): void {
    this.thread.removeSink(this, sink);
  }

  async playOut(): Promise<void> {
    // The thread runs the ticks into the sinks' rings, a few at a time (a session of many
    // streams would fill a ring at once); each batch goes to the recorders before the next.
    for (let batches = 0; !this.closed && batches < 100; batches++) {
      const ran = await this.thread.request<number>({ type: 'room.playOut', roomId: this.id, maxTicks: 10 });
      if (this.closed) return;
      this.thread.drainRoom(this);
      if (ran < 10) return;
    }
  }

  /** Closes the legs, then the room; the thread closes its side. Synchronous, idempotent; one 'close'. */
  close(reason: MediaRoomCloseReason = 'closed'): void {
    if (this.closed) return;
    // Every tick the thread wrote up to now reaches the recorders before anything closes.
    this.thread.drainRoom(this);
    this.closed = true;
    this.closeReason = reason;
    for (const leg of [...this.legs.values()]) leg.close('room-closed');
    this.thread.send({ type: 'room.close', roomId: this.id, reason });
    this.thread.roomClosed(this);
    this.roomClosed(this);
    this.log.info({ reason }, 'room closed');
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  /** @internal */
  legOfSlot(slot: number): string | undefined {
    return this.slotNames.get(slot);
  }

  /** @internal A leg proxy closed. */
  legClosed(leg: RemoteMediaLeg): void {
    if (this.legs.get(leg.id) !== leg) return;
    this.legs.delete(leg.id);
    this.thread.stopLegSources(this, leg.id);
    this.safeEmit('legclose', leg);
  }

  /** @internal The thread's stats snapshot. */
  applySnapshot(s: RoomSnapshot): void {
    if (this.closed) return;
    this.rate = s.sampleRate;
    this.clock = s.mixerStats;
    this.forward = s.forwardStats;
    for (const l of s.legs) this.legs.get(l.legId)?.applySnapshot(l);
  }

  /** @internal An event from the thread about this room or one of its legs. */
  onThreadEvent(m: RoomEvent): void {
    if (m.type === 'room.closed') {
      this.close(m.reason);
      return;
    }
    if (m.type === 'room.failed') {
      if (!this.closed) this.log.error({ err: m.error }, 'the media thread could not make the room');
      this.close();
      return;
    }
    if (m.type === 'hub.requestLeg') {
      this.hubRequestLeg?.(m.legId, m.codec);
      return;
    }
    if (m.type === 'hub.inputTalk') {
      this.hubInputTalk?.(m.id, m.talking);
      return;
    }
    if ('legId' in m) this.legs.get(m.legId)?.onThreadEvent(m);
  }

  private newLeg(options: CreateLegOptions): RemoteMediaLeg {
    this.assertOpen();
    const id = options.id ?? randomUUID();
    if (this.legs.has(id)) throw new Error(`leg ${id} already exists in room ${this.id}`);
    const slot = this.nextSlot++;
    this.slotNames.set(slot, id);
    const leg = new RemoteMediaLeg(id, slot, this, this.log.child({ leg: id }));
    this.legs.set(id, leg);
    return leg;
  }

  private assertOpen(): void {
    if (this.closed) throw new MediaClosedError(`room ${this.id} is closed (${this.closeReason})`);
  }
}

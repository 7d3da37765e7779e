// The media engine: the rooms, the RTP port allocator their legs' endpoints
// share, and the mediasoup worker pool (the rooms' hubs). The only factory of
// rooms and of their hubs (made on demand: a room nobody consumes costs
// mediasoup nothing).
import { randomBytes, randomUUID } from 'node:crypto';
import type { MediaConfig } from '../config/schema.ts';
import { componentLogger, type Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { MediaClosedError } from './media-errors.ts';
import { localHubSide, remoteHubSide } from './hub-side.ts';
import type { MediaRoom } from './media-api.ts';
import { LocalMediaRoom } from './media-room.ts';
import { nativeUdpError } from './native-udp.ts';
import { PortAllocator } from './port-allocator.ts';
import type { LatchMode } from './rtp-endpoint.ts';
import type { CodecName } from '../mixer/codecs/audio-codec.ts';
import { NARROWBAND_RATE } from '../mixer/room-mixer.ts';
import { Resampler } from '../mixer/codecs/resampler.ts';
import { RoomHub } from './room-hub.ts';
import { resolveWorkerBinary } from './worker-binary.ts';
import { WorkerPool } from './worker-pool.ts';
import { MediaThreadPool, threadCount } from './thread/media-thread-pool.ts';
import { RemoteMediaRoom } from './thread/remote-media-room.ts';

export type MediaEngineEvents = {
  /** Terminal, exactly once. */
  close: [];
  /** A media thread died: its rooms closed ('media-thread-died'), a new thread took its place. */
  threaddied: [index: number, error: Error | null];
};

export class MediaEngine extends TypedEmitter<MediaEngineEvents> {
  private readonly rooms = new Map<string, LocalMediaRoom | RemoteMediaRoom>();
  /** Media threads (media.threads > 0); null: rooms run on this thread. */
  private threads: MediaThreadPool | null = null;
  private deaths = 0;
  /** Rooms' hubs, while being made (the promise is shared by concurrent callers) and once open. */
  private readonly hubsPending = new Map<string, Promise<RoomHub>>();
  private readonly hubs = new Map<string, RoomHub>();
  private readonly ports: PortAllocator;
  private readonly roomConfig: MediaConfig & { latching: LatchMode };
  private readonly cname = `parley-${randomBytes(9).toString('base64url')}`;
  private closed = false;

  private constructor(
    private readonly config: MediaConfig,
    private readonly pool: WorkerPool,
    private readonly log: Logger,
  ) {
    super(log);
    this.ports = new PortAllocator(config.rtpPortRange, { ip4: config.rtpIp, ip6: config.rtpIp6 });
    this.roomConfig = { ...config, latching: latchMode(config.latching) };
  }

  /** `opts.prettyLogs`: the media threads' log lines human-readable, as the main logger's (log.pretty). */
  static async create(config: MediaConfig, log: Logger, opts: { prettyLogs?: boolean } = {}): Promise<MediaEngine> {
    const pool = await WorkerPool.create({
      size: config.workers,
      workerBin: resolveWorkerBinary(config.workerBin),
      rtcMinPort: config.rtpPortRange.min,
      rtcMaxPort: config.rtpPortRange.max,
      log: componentLogger(log, 'worker-pool'),
    });
    const engine = new MediaEngine(config, pool, log);
    const ioError = config.nativeIo ? nativeUdpError() : null;
    if (ioError !== null) log.warn({ reason: ioError }, 'media.nativeIo: the parley-udp addon does not load; RTP is read through dgram');
    if (threadCount(config.threads) > 0) {
      try {
        engine.threads = await MediaThreadPool.create(engine.roomConfig, engine.cname, { level: log.level, pretty: opts.prettyLogs ?? false }, componentLogger(log, 'media-threads'));
      } catch (err) {
        engine.close();
        throw err;
      }
      engine.threads.on('threaddied', (index, error) => {
        engine.deaths++;
        engine.safeEmit('threaddied', index, error);
      });
    }
    return engine;
  }

  /** Media threads that died (and were replaced) since start. */
  get threadDeaths(): number {
    return this.deaths;
  }

  /** Media threads running rooms (0: rooms run on the main thread). */
  get threadCount(): number {
    return this.threads?.count ?? 0;
  }

  /** How each media thread loaded its code: the bundle made at setup, or the TypeScript (media-thread-boot.mjs). */
  get threadCode(): Array<'bundle' | 'source' | null> {
    return this.threads?.handles.map((h) => h.entry) ?? [];
  }

  /** The libopus each media thread's codecs use (opus-engine.ts). */
  get threadOpus(): Array<string | null> {
    return this.threads?.handles.map((h) => h.opus) ?? [];
  }

  /** Which media thread runs a room (null: the main thread, or no such room). */
  threadOf(roomId: string): number | null {
    const r = this.rooms.get(roomId);
    return r instanceof RemoteMediaRoom ? r.thread.index : null;
  }

  /** Rings (recorders', prompts') made new and used again on the media threads now running (ring-pool.ts). */
  get ringStats(): { made: number; reused: number } {
    let made = 0;
    let reused = 0;
    for (const h of this.threads?.handles ?? []) {
      made += h.ringPool.made;
      reused += h.ringPool.reused;
    }
    return { made, reused };
  }

  /** Recorder ticks lost crossing from a media thread (a full ring); stays 0 unless the main thread stalls for seconds. */
  get droppedRecordingTicks(): number {
    return this.threads?.droppedTicks ?? 0;
  }

  /**
   * Frames resampled since the start: on this thread (prompts and recorders tapping
   * them; the rooms too with media.threads: 0) and on the media threads (as of their
   * last stats, nextStats() for fresh ones). A call whose legs, prompts and recording
   * share one rate adds none.
   */
  get resampledFrames(): { main: number; threads: number } {
    return { main: Resampler.framesRun, threads: this.threads?.resampledFrames ?? 0 };
  }

  /** Messages between the main thread and the media threads since start, by direction and type (empty with media.threads: 0). */
  get threadMessages(): { sent: Map<string, number>; received: Map<string, number> } {
    return this.threads?.messages ?? { sent: new Map(), received: new Map() };
  }

  /**
   * Asks every media thread for a stats snapshot now and resolves once they
   * are applied: the stats read from rooms and legs are then fresh (at once
   * with media.threads: 0, where they are live).
   */
  async nextStats(): Promise<void> {
    if (this.threads) await Promise.all(this.threads.handles.map((h) => h.nextStats()));
  }

  /** Test only: media thread `index` fails with an uncaught error, as a bug in it would. */
  crashThreadForTest(index: number): void {
    this.threads?.handles[index]?.crash();
  }

  /** Test only: how the media threads of now ended (their exit codes), once they have (after close()). */
  threadExitsForTest(): Promise<number[]> {
    return Promise.all((this.threads?.handles ?? []).map((h) => h.exited));
  }

  /** Test only: media thread `index` blocks for `ms`, as in a long GC pause. */
  stallThreadForTest(index: number, ms: number): void {
    this.threads?.handles[index]?.stall(ms);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get workerPids(): number[] {
    return this.pool.pids;
  }

  room(id: string): MediaRoom | undefined {
    return this.rooms.get(id);
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  /** RTP port pairs in use by legs' endpoints. */
  get portsInUse(): number {
    return this.ports.used + (this.threads?.portsInUse ?? 0);
  }

  /** A room: its mixer now; its legs' endpoints as they are made. */
  async createRoom(id: string = randomUUID()): Promise<MediaRoom> {
    if (this.closed) throw new MediaClosedError('media engine is closed');
    if (this.rooms.has(id)) throw new Error(`room ${id} already exists`);
    if (this.threads) return this.createRemoteRoom(id, this.threads);
    const room = new LocalMediaRoom(id, {
      ports: this.ports,
      cname: this.cname,
      config: this.roomConfig,
      log: this.log.child({ room: id }),
      roomClosed: (r) => {
        if (this.rooms.get(r.id) === r) this.rooms.delete(r.id);
        this.hubs.get(r.id)?.close('room-closed');
      },
    });
    this.rooms.set(id, room);
    return room;
  }

  private async createRemoteRoom(id: string, threads: MediaThreadPool): Promise<MediaRoom> {
    const thread = threads.pick();
    const c = this.roomConfig;
    const room = new RemoteMediaRoom(id, c.codecs as CodecName[], c.mixer.narrowband ? NARROWBAND_RATE : c.mixer.sampleRate, thread, this.log.child({ room: id }), (r) => {
      if (this.rooms.get(r.id) === r) this.rooms.delete(r.id);
      this.hubs.get(r.id)?.close('room-closed');
    });
    this.rooms.set(id, room);
    thread.addRoom(room);
    // Not answered (one thread round trip less before a call's first answer, and one
    // message less): the thread takes its commands in order and makes the room
    // synchronously, so the first leg's command, sent after this one, finds it. A failure
    // comes back as 'room.failed' and closes the room, and with it whatever was asked of
    // it meanwhile (RemoteMediaRoom.onThreadEvent).
    thread.send({ type: 'room.create', roomId: id });
    return room;
  }

  /** Open room hubs (each one Router). */
  get hubCount(): number {
    return this.hubs.size;
  }

  hub(roomId: string): RoomHub | undefined {
    return this.hubs.get(roomId);
  }

  /** The ids of the Routers the workers have, as the workers themselves tell (monitoring, tests). */
  async workerRouterIds(): Promise<string[]> {
    return this.pool.routerIds();
  }

  /**
   * The room's hub, made on first use (a browser joins, a pipe, an external
   * consumer): a Router on the least loaded worker, the room publishing into it.
   * Rejects with MediaClosedError when the room (or engine) closes meanwhile.
   */
  hubFor(roomId: string): Promise<RoomHub> {
    const open = this.hubs.get(roomId);
    if (open) return Promise.resolve(open);
    let pending = this.hubsPending.get(roomId);
    if (!pending) {
      const room = this.rooms.get(roomId);
      if (this.closed || !room) return Promise.reject(new MediaClosedError(`room ${roomId} is not open`));
      pending = this.openHub(room).finally(() => this.hubsPending.delete(roomId));
      this.hubsPending.set(roomId, pending);
    }
    return pending;
  }

  /** Parley is stopping: a mediasoup worker that exits now is expected, not replaced (WorkerPool.stopping). */
  stopping(): void {
    this.pool.stopping();
  }

  /** Closes every room (and so its hub), then the workers. Synchronous, idempotent; one 'close'. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const room of [...this.rooms.values()]) room.close('engine-closed');
    for (const hub of [...this.hubs.values()]) hub.close('engine-closed');
    this.threads?.close();
    this.pool.close();
    this.safeEmit('close');
    this.removeAllListeners();
  }

  /**
   * The room's side first (its publisher's socket, which the hub's transports
   * connect to; in the room's media thread when it has one), then the Router.
   * Between them only small messages: the publisher asks for a leg's
   * Producer, the hub answers with its SSRC; never per packet.
   */
  private async openHub(room: LocalMediaRoom | RemoteMediaRoom): Promise<RoomHub> {
    const log = componentLogger(this.log, 'room-hub', { room: room.id });
    let hub: RoomHub | null = null;
    const requestLeg = (legId: string, codec: CodecName): void => {
      hub?.publishLeg(legId, codec).catch((err: unknown) => log.warn({ err, leg: legId }, 'publishing a leg into the hub failed'));
    };
    const inputTalk = (id: string, talking: boolean): void => hub?.inputTalking(id, talking);
    const side = room instanceof LocalMediaRoom ? await localHubSide(room, HUB_IP, log, requestLeg, inputTalk) : await remoteHubSide(room, requestLeg, inputTalk);
    try {
      hub = await RoomHub.create({ roomId: room.id, pool: this.pool, codecs: room.codecs, listenIp: HUB_IP, publisherAddress: side.address, publisher: side.control, cname: this.cname, log });
    } catch (err) {
      side.detach();
      throw err;
    }
    if (this.closed || room.isClosed || hub.isClosed) {
      hub.close('room-closed');
      side.detach();
      throw new MediaClosedError(`room ${room.id} (or its worker) closed while its hub was made`);
    }
    const h = hub;
    const onLegClose = (leg: { id: string }): void => h.unpublishLeg(leg.id);
    room.on('legclose', onLegClose);
    h.on('close', () => {
      room.off('legclose', onLegClose);
      if (this.hubs.get(room.id) === h) this.hubs.delete(room.id);
      // The room goes on without its hub (a worker died, or nobody needs it): calls do not end.
      side.detach();
    });
    side.control.start(h.link);
    side.attach();
    this.hubs.set(room.id, h);
    return h;
  }
}

/** The hub and the room's publisher talk over loopback (one host; a pipe reaches other hosts). */
const HUB_IP = '127.0.0.1';

/** media.latching: true/false (the old switch) or a mode. */
function latchMode(v: MediaConfig['latching']): LatchMode {
  if (v === true) return 'latch';
  if (v === false) return 'strict';
  return v;
}

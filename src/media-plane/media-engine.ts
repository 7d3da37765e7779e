// The media engine: the worker pool, SSRC discovery, and the rooms. The only
// factory of rooms. When a worker dies its rooms close with 'worker-died'
// (their legs with the same reason), so call control can end those calls.
import { randomUUID } from 'node:crypto';
import type { MediaConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { MediaClosedError } from './media-errors.ts';
import { MediaRoom } from './media-room.ts';
import { SsrcDiscovery } from './ssrc-discovery.ts';
import { resolveWorkerBinary } from './worker-binary.ts';
import { WorkerPool } from './worker-pool.ts';

export type MediaEngineEvents = {
  /** Terminal, exactly once. */
  close: [];
};

export class MediaEngine extends TypedEmitter<MediaEngineEvents> {
  private readonly rooms = new Map<string, MediaRoom>();
  private readonly discovery: SsrcDiscovery;
  private closed = false;

  private constructor(
    private readonly config: MediaConfig,
    private readonly pool: WorkerPool,
    private readonly log: Logger,
  ) {
    super(log);
    this.discovery = new SsrcDiscovery(log.child({ component: 'ssrc-discovery' }));
    this.discovery.install();
    pool.on('workerdied', (dead) => {
      for (const room of [...this.rooms.values()]) if (room.workerPid === dead.pid) room.close('worker-died');
    });
  }

  static async create(config: MediaConfig, log: Logger): Promise<MediaEngine> {
    const pool = await WorkerPool.create({
      size: config.workers,
      workerBin: resolveWorkerBinary(config.workerBin),
      rtcMinPort: config.rtpPortRange.min,
      rtcMaxPort: config.rtpPortRange.max,
      log: log.child({ component: 'worker-pool' }),
    });
    return new MediaEngine(config, pool, log);
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

  /** A room with its Router on the least loaded worker. */
  async createRoom(id: string = randomUUID()): Promise<MediaRoom> {
    if (this.closed) throw new MediaClosedError('media engine is closed');
    if (this.rooms.has(id)) throw new Error(`room ${id} already exists`);
    const room = await MediaRoom.create(id, {
      pool: this.pool,
      discovery: this.discovery,
      config: this.config,
      log: this.log.child({ room: id }),
      roomClosed: (r) => {
        if (this.rooms.get(r.id) === r) this.rooms.delete(r.id);
      },
    });
    if (this.closed) {
      room.close('engine-closed');
      throw new MediaClosedError('media engine closed while creating a room');
    }
    this.rooms.set(id, room);
    return room;
  }

  /** Closes every room, then the workers. Synchronous, idempotent; one 'close'. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const room of [...this.rooms.values()]) room.close('engine-closed');
    this.pool.close();
    this.discovery.uninstall();
    this.safeEmit('close');
    this.removeAllListeners();
  }
}

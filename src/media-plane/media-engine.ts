// The media engine: the rooms, the RTP port allocator their legs' endpoints
// share, and the mediasoup worker pool (the rooms' hubs). The only factory of rooms.
import { randomBytes, randomUUID } from 'node:crypto';
import type { MediaConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { MediaClosedError } from './media-errors.ts';
import { MediaRoom } from './media-room.ts';
import { PortAllocator } from './port-allocator.ts';
import type { LatchMode } from './rtp-endpoint.ts';
import { resolveWorkerBinary } from './worker-binary.ts';
import { WorkerPool } from './worker-pool.ts';

export type MediaEngineEvents = {
  /** Terminal, exactly once. */
  close: [];
};

export class MediaEngine extends TypedEmitter<MediaEngineEvents> {
  private readonly rooms = new Map<string, MediaRoom>();
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
    this.ports = new PortAllocator(config.rtpPortRange, config.rtpIp);
    this.roomConfig = { ...config, latching: latchMode(config.latching) };
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

  /** RTP port pairs in use by legs' endpoints. */
  get portsInUse(): number {
    return this.ports.used;
  }

  /** A room: its mixer now; its legs' endpoints as they are made. */
  async createRoom(id: string = randomUUID()): Promise<MediaRoom> {
    if (this.closed) throw new MediaClosedError('media engine is closed');
    if (this.rooms.has(id)) throw new Error(`room ${id} already exists`);
    const room = new MediaRoom(id, {
      ports: this.ports,
      cname: this.cname,
      config: this.roomConfig,
      log: this.log.child({ room: id }),
      roomClosed: (r) => {
        if (this.rooms.get(r.id) === r) this.rooms.delete(r.id);
      },
    });
    this.rooms.set(id, room);
    return room;
  }

  /** Closes every room, then the workers. Synchronous, idempotent; one 'close'. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const room of [...this.rooms.values()]) room.close('engine-closed');
    this.pool.close();
    this.safeEmit('close');
    this.removeAllListeners();
  }
}

/** media.latching: true/false (the old switch) or a mode. */
function latchMode(v: MediaConfig['latching']): LatchMode {
  if (v === true) return 'latch';
  if (v === false) return 'strict';
  return v;
}

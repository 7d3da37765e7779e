// The Parley process: owns the media engine and the SIP side, starts them in
// order and closes them in reverse order. See src/CLOSURES.md.
import type { ParleyConfig } from './config/schema.ts';
import { WorkerPool } from './media-plane/worker-pool.ts';
import { resolveWorkerBinary } from './media-plane/worker-binary.ts';
import type { Logger } from './util/logger.ts';
import { TypedEmitter } from './util/typed-emitter.ts';

export type ParleyEvents = { close: [] };

export class Parley extends TypedEmitter<ParleyEvents> {
  private workers: WorkerPool | null = null;
  private closed = false;

  private constructor(
    readonly config: ParleyConfig,
    readonly log: Logger,
  ) {
    super(log);
  }

  static async start(config: ParleyConfig, log: Logger): Promise<Parley> {
    const app = new Parley(config, log);
    try {
      await app.startMedia();
    } catch (err) {
      app.close();
      throw err;
    }
    log.warn('SIP edge not built yet: only the media engine is running');
    return app;
  }

  get workerPool(): WorkerPool | null {
    return this.workers;
  }

  /** Synchronous and idempotent: closes the SIP side first, then the media engine. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log.info('closing');
    this.workers?.close();
    this.workers = null;
    this.log.info('closed');
    this.safeEmit('close');
  }

  private async startMedia(): Promise<void> {
    const m = this.config.media;
    this.workers = await WorkerPool.create({
      size: m.workers,
      workerBin: resolveWorkerBinary(m.workerBin),
      rtcMinPort: m.rtpPortRange.min,
      rtcMaxPort: m.rtpPortRange.max,
      log: this.log.child({ component: 'media' }),
    });
  }
}

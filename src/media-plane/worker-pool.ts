// A pool of mediasoup workers, one per core by default. A worker that dies is
// replaced, and listeners are told which worker went so that the rooms routed
// on it can end their calls cleanly.
import { availableParallelism } from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';

export interface WorkerPoolOptions {
  size: number | 'auto';
  workerBin: string;
  rtcMinPort: number;
  rtcMaxPort: number;
  log: Logger;
}

export type WorkerPoolEvents = {
  /** A worker died; `replacement` is already serving (or null when the pool is closing). */
  workerdied: [dead: ms.Worker, replacement: ms.Worker | null, error: Error];
  close: [];
};

export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  private readonly workers: ms.Worker[] = [];
  /** Routers currently open per worker, to place new rooms on the least loaded one. */
  private readonly load = new Map<ms.Worker, number>();
  private closed = false;
  /** Parley is stopping: a worker that exits now is not replaced. */
  private isStopping = false;
  private readonly log: Logger;

  private constructor(private readonly options: WorkerPoolOptions) {
    super(options.log);
    this.log = options.log;
  }

  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    const size = options.size === 'auto' ? availableParallelism() : options.size;
    try {
      for (let i = 0; i < size; i++) pool.workers.push(await pool.spawn());
    } catch (err) {
      pool.close();
      throw err;
    }
    pool.log.info({ workers: size, pids: pool.workers.map((w) => w.pid) }, 'mediasoup workers started');
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  /** Every worker's routers, as the workers report them (worker.dump()). */
  async routerIds(): Promise<string[]> {
    const dumps = await Promise.all(this.workers.map((w) => w.dump()));
    return dumps.flatMap((d) => d.routerIds);
  }

  /** The worker with the fewest routers. */
  pick(): ms.Worker {
    if (this.closed) throw new Error('worker pool is closed');
    let best = this.workers[0];
    if (!best) throw new Error('worker pool is empty');
    for (const w of this.workers) if ((this.load.get(w) ?? 0) < (this.load.get(best) ?? 0)) best = w;
    return best;
  }

  /** A router on `worker` (a room's further routers stay on its worker), else on the least loaded one. */
  async createRouter(mediaCodecs: ms.RouterRtpCodecCapability[], appData: ms.AppData = {}, worker: ms.Worker = this.pick()): Promise<ms.Router> {
    if (!this.workers.includes(worker)) throw new Error('worker is not in the pool (died or closed)');
    const router = await worker.createRouter({ mediaCodecs, appData });
    this.load.set(worker, (this.load.get(worker) ?? 0) + 1);
    router.observer.once('close', () => this.load.set(worker, Math.max(0, (this.load.get(worker) ?? 1) - 1)));
    return router;
  }

  /**
   * Parley is stopping (a signal, a drain): from now on a worker that exits is not replaced
   * and is logged as part of the stop, not as a failure. Ctrl-C in a terminal signals the
   * whole process group, the workers too, and mediasoup-worker exits on SIGINT/SIGTERM.
   */
  stopping(): void {
    this.isStopping = true;
  }

  /** Closes every worker (and so every router on them). Synchronous and idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) w.close();
    this.workers.length = 0;
    this.load.clear();
    this.safeEmit('close');
  }

  private async spawn(): Promise<ms.Worker> {
    const { workerBin, rtcMinPort, rtcMaxPort } = this.options;
    const worker = await mediasoup.createWorker({ workerBin, rtcMinPort, rtcMaxPort, logLevel: 'warn' });
    this.load.set(worker, 0);
    // mediasoup closes its workers itself on the process's SIGINT/SIGTERM. Parley owns
    // the shutdown order (a SIGTERM drains calls before the media goes), so take those
    // handlers back; the pool's close() still closes every worker.
    const onSignal = (worker as unknown as { onSignal?: (...args: unknown[]) => void }).onSignal;
    if (onSignal) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    worker.on('died', (error) => {
      this.onDied(worker, error).catch((err: unknown) => this.log.error({ err }, 'replacing a dead worker failed'));
    });
    return worker;
  }

  private async onDied(dead: ms.Worker, error: Error): Promise<void> {
    if (this.isStopping || this.closed) this.log.info({ pid: dead.pid, exit: error.message }, 'mediasoup worker exited while Parley stops (not replaced)');
    else this.log.error({ pid: dead.pid, err: error }, 'mediasoup worker died');
    const i = this.workers.indexOf(dead);
    this.load.delete(dead);
    if (this.closed || this.isStopping || i < 0) {
      this.safeEmit('workerdied', dead, null, error);
      return;
    }
    const replacement = await this.spawn();
    if (this.closed) {
      replacement.close();
      this.safeEmit('workerdied', dead, null, error);
      return;
    }
    this.workers[i] = replacement;
    this.log.warn({ pid: replacement.pid }, 'mediasoup worker replaced');
    this.safeEmit('workerdied', dead, replacement, error);
  }
}

// The Parley process: owns the media engine and the SIP side, starts them in
// order and closes them in reverse order. See src/CLOSURES.md.
import { loadConfigFile } from './config/load-config.ts';
import type { ParleyConfig } from './config/schema.ts';
import { RoutingTable } from './policy/routing-table.ts';
import { WorkerPool } from './media-plane/worker-pool.ts';
import { resolveWorkerBinary } from './media-plane/worker-binary.ts';
import type { Logger } from './util/logger.ts';
import { TypedEmitter } from './util/typed-emitter.ts';

export type ParleyEvents = { close: [] };

export class Parley extends TypedEmitter<ParleyEvents> {
  private workers: WorkerPool | null = null;
  private closed = false;
  readonly routing: RoutingTable;

  private constructor(
    private configInForce: ParleyConfig,
    readonly log: Logger,
  ) {
    super(log);
    this.routing = new RoutingTable(configInForce.routing, configInForce.flows);
  }

  get config(): ParleyConfig {
    return this.configInForce;
  }

  /**
   * Re-reads the config file (SIGHUP). The rule chain and the flows change at
   * once for new requests; calls in progress keep what they started with. A file
   * that does not validate is refused and the config in force stays.
   */
  reload(file: string): { ok: true; restartNeeded: string[] } | { ok: false; error: Error } {
    let next: ParleyConfig;
    try {
      next = loadConfigFile(file);
    } catch (err) {
      this.log.error({ err, file }, 'config reload refused; the old config stays in force');
      return { ok: false, error: err as Error };
    }
    const restartNeeded = (['sip', 'media', 'prompts', 'recording', 'log'] as const).filter(
      (k) => JSON.stringify(next[k]) !== JSON.stringify(this.configInForce[k]),
    );
    this.routing.replace(next.routing, next.flows);
    this.configInForce = { ...this.configInForce, routing: next.routing, flows: next.flows };
    this.log.info(
      { file, generation: this.routing.generation, rules: this.routing.chain.ruleNames.length, flows: Object.keys(next.flows).length },
      'config reloaded',
    );
    if (restartNeeded.length > 0) this.log.warn({ sections: restartNeeded }, 'these sections changed and take effect at the next start');
    return { ok: true, restartNeeded };
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

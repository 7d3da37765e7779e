// The media threads (media.threads, default one per core): each owns the
// rooms it was given. A room goes to the least loaded thread; a thread that
// dies has closed its rooms ('media-thread-died') and is replaced in its slot.
// The RTP port range is split between the threads, so each binds its own.
import os from 'node:os';
import type { MediaConfig } from '../../config/schema.ts';
import type { Logger } from '../../util/logger.ts';
import { TypedEmitter } from '../../util/typed-emitter.ts';
import type { LatchMode } from '../rtp-endpoint.ts';
import { MediaThreadHandle } from './media-thread-handle.ts';
import type { MediaThreadInit } from './protocol.ts';
import { currentBundle } from './thread-bundle.mjs';

export type MediaThreadPoolEvents = {
  /** A thread died (its rooms are closed) and `replacement` took its slot. */
  threaddied: [index: number, error: Error | null, replacement: MediaThreadHandle];
};

/** media.threads: 'auto' is one per core. */
export function threadCount(v: MediaConfig['threads']): number {
  return v === 'auto' ? Math.max(1, os.availableParallelism()) : v;
}

/** Thread k's share of the port range: whole RTP/RTCP pairs, the last thread takes the rest. */
export function portShare(range: { min: number; max: number }, n: number, k: number): { min: number; max: number } {
  const first = range.min + (range.min % 2);
  const pairs = Math.floor((range.max - first + 1) / 2);
  const per = Math.floor(pairs / n);
  if (per < 1) throw new Error(`media.rtpPortRange ${range.min}-${range.max} is too small for ${n} media threads (media.threads)`);
  const min = first + k * per * 2;
  const max = k === n - 1 ? range.max : min + per * 2 - 1;
  return { min, max };
}

export class MediaThreadPool extends TypedEmitter<MediaThreadPoolEvents> {
  private readonly threads: MediaThreadHandle[] = [];
  private closed = false;
  /** Ticks lost by threads that were replaced (the live ones count their own). */
  private droppedBefore = 0;
  private resampledBefore = 0;
  /** Messages of threads that were replaced, by direction and type (the live ones count their own). */
  private readonly messagesBefore = { sent: new Map<string, number>(), received: new Map<string, number>() };

  private constructor(
    private readonly base: Omit<MediaThreadInit, 'index' | 'ports'>,
    private readonly size: number,
    private readonly log: Logger,
  ) {
    super(log);
  }

  static async create(config: MediaConfig & { latching: LatchMode }, cname: string, logs: { level: string; pretty: boolean }, log: Logger): Promise<MediaThreadPool> {
    const n = threadCount(config.threads);
    // The bundle of the threads' code, checked once here (every thread, and each one replaced later, loads the same).
    const bundle = process.env.PARLEY_MEDIA_THREAD_BUNDLE === '0' ? null : ((await currentBundle(new URL('../../../', import.meta.url)))?.href ?? null);
    const pool = new MediaThreadPool({ config, cname, logLevel: logs.level, logPretty: logs.pretty, bundle }, n, log);
    for (let k = 0; k < n; k++) pool.threads.push(pool.start(k));
    try {
      await Promise.all(pool.threads.map((t) => t.ready));
    } catch (err) {
      pool.close();
      throw err;
    }
    log.info({ threads: n, code: pool.threads.map((t) => t.entry), opus: pool.threads[0]?.opus }, 'media threads started');
    return pool;
  }

  get count(): number {
    return this.threads.length;
  }

  get handles(): readonly MediaThreadHandle[] {
    return this.threads;
  }

  /** The thread with the fewest rooms and legs. */
  pick(): MediaThreadHandle {
    let best = this.threads[0]!;
    for (const t of this.threads) if (t.load < best.load) best = t;
    return best;
  }

  get portsInUse(): number {
    return this.threads.reduce((n, t) => n + t.portsInUse, 0);
  }

  /** Recorder ticks lost because a ring was full (should stay 0). */
  get droppedTicks(): number {
    return this.threads.reduce((n, t) => n + t.droppedTicks, this.droppedBefore);
  }

  /** Frames resampled on the media threads since the start, as of their last stats snapshots. */
  get resampledFrames(): number {
    return this.threads.reduce((n, t) => n + t.resampledFrames, this.resampledBefore);
  }

  /** Messages between the main thread and the media threads since the start: sent (commands) and received (events), by type. */
  get messages(): { sent: Map<string, number>; received: Map<string, number> } {
    const out = { sent: new Map(this.messagesBefore.sent), received: new Map(this.messagesBefore.received) };
    for (const t of this.threads) {
      addCounts(out.sent, t.sentByType);
      addCounts(out.received, t.receivedByType);
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.threads) t.close();
    this.removeAllListeners();
  }

  private start(k: number): MediaThreadHandle {
    return new MediaThreadHandle({
      init: { ...this.base, index: k, ports: portShare(this.base.config.rtpPortRange, this.size, k) },
      log: this.log,
      died: (h, err) => this.replace(h, err),
    });
  }

  private replace(dead: MediaThreadHandle, err: Error | null): void {
    if (this.closed) return;
    const k = this.threads.indexOf(dead);
    if (k < 0) return;
    this.droppedBefore += dead.droppedTicks;
    this.resampledBefore += dead.resampledFrames;
    addCounts(this.messagesBefore.sent, dead.sentByType);
    addCounts(this.messagesBefore.received, dead.receivedByType);
    const next = this.start(k);
    this.threads[k] = next;
    next.ready.then(
      () => this.log.warn({ thread: k }, 'media thread replaced'),
      (e: unknown) => this.log.error({ err: e, thread: k }, 'replacement media thread failed to start'),
    );
    this.safeEmit('threaddied', k, err, next);
  }
}

function addCounts(into: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

// The one module that imports the Redis client (ioredis). Everything in
// src/cluster/ talks to Redis through a RedisLink: commands fail at once while
// the server is unreachable (no offline queue: a heartbeat or a lease renewal
// must not pile up behind an outage and fire late), the client reconnects by
// itself, and 'up'/'down' tell the cluster when to re-register.
import { Redis } from 'ioredis';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';

export type RedisClient = Redis;

export type RedisLinkEvents = { up: []; down: [err: Error | null] };

/** Reconnection back-off: fast at first (a restart takes well under a second), at most every 2 s. */
const retryDelay = (attempt: number): number => Math.min(100 * attempt, 2000);

export class RedisLink extends TypedEmitter<RedisLinkEvents> {
  readonly client: Redis;
  private up = false;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly log: Logger,
    name = 'parley',
  ) {
    super(log);
    this.client = new Redis(url, {
      connectionName: name,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: 2000,
      retryStrategy: retryDelay,
      lazyConnect: true,
    });
    this.client.on('ready', () => {
      if (this.up || this.closed) return;
      this.up = true;
      this.log.info({ url: this.redacted }, 'redis reachable');
      this.safeEmit('up');
    });
    this.client.on('error', (err: Error) => this.lost(err));
    this.client.on('close', () => this.lost(null));
  }

  /** Connects; resolves when connected or rejects on the first failure (the client keeps retrying either way). */
  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      this.lost(err as Error);
    }
  }

  get isUp(): boolean {
    return this.up && !this.closed;
  }

  /** The URL without a password, for logs. */
  get redacted(): string {
    return this.url.replace(/\/\/[^@/]*@/, '//***@');
  }

  /** Synchronous, idempotent: the connection is dropped, no reconnection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.up = false;
    this.client.disconnect(false);
    this.removeAllListeners();
  }

  private lost(err: Error | null): void {
    if (!this.up || this.closed) {
      if (err && !this.closed) this.log.debug({ err: err.message }, 'redis unreachable');
      return;
    }
    this.up = false;
    this.log.warn({ url: this.redacted, err: err?.message }, 'redis lost; calls go on, new rooms are refused until it is back');
    this.safeEmit('down', err);
  }
}

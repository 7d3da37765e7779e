// An EventEmitter with a typed event map and a safeEmit that never lets an
// application listener's exception unwind into the code that emitted.
import { EventEmitter } from 'node:events';
import type { Logger } from './logger.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = Record<string, any[]>;

export class TypedEmitter<E extends EventMap> extends EventEmitter {
  protected readonly emitterLog: Logger | undefined;

  constructor(log?: Logger) {
    super();
    this.setMaxListeners(Infinity);
    this.emitterLog = log;
  }

  override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  /** Emits to every listener; a listener that throws is logged and the rest still run. */
  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    const listeners = this.rawListeners(event);
    for (const l of listeners) {
      try {
        (l as (...a: E[K]) => void).apply(this, args);
      } catch (err) {
        this.emitterLog?.error({ err, event }, 'event listener threw');
      }
    }
    return listeners.length > 0;
  }

  /** Resolves with the event's arguments the next time it is emitted. */
  waitFor<K extends keyof E & string>(event: K, timeoutMs?: number): Promise<E[K]> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const listener = (...args: E[K]): void => {
        if (timer) clearTimeout(timer);
        resolve(args);
      };
      this.once(event, listener);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.off(event, listener);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
        }, timeoutMs);
      }
    });
  }
}

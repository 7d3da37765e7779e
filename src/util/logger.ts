// pino, the one logger of the project. Library code takes a Logger from its
// parent and makes children; a call's logger carries its Call-ID on every line.
import { isMainThread } from 'node:worker_threads';
import { pino, type Logger, type LoggerOptions } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

export interface LoggerSettings {
  level: string;
  /** Human-readable output through pino-pretty; JSON lines otherwise. */
  pretty: boolean;
}

const PRETTY = { colorize: true, translateTime: 'HH:MM:ss.l' };

export function createLogger(settings: LoggerSettings, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = { level: settings.level, base: { app: 'parley' } };
  if (settings.pretty && !destination) {
    // A media thread formats its own lines in its own thread (a transport would start
    // one more thread per media thread), written to the same stdout as the main thread's.
    if (!isMainThread) return pino(options, pinoPretty(PRETTY));
    return pino({ ...options, transport: { target: 'pino-pretty', options: PRETTY } });
  }
  return destination ? pino(options, destination) : pino(options);
}

/** The child logger for one call: every line it writes names the call. */
export function callLogger(parent: Logger, callId: string, extra: Record<string, unknown> = {}): Logger {
  return parent.child({ callId, ...extra });
}

/** A logger that writes nothing, for unit tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

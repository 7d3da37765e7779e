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

/** pino's transport stream (thread-stream): the part of it endLogger uses. */
interface TransportStream extends NodeJS.EventEmitter {
  readonly closed: boolean;
  end(): void;
  ref(): void;
}

/** The pino-pretty transport of each pretty logger made here (its lines are written by its own thread). */
const transports = new WeakMap<Logger, TransportStream>();

export function createLogger(settings: LoggerSettings, destination?: NodeJS.WritableStream): Logger {
  const log = makeRoot(settings, destination);
  roots.add(log);
  return log;
}

function makeRoot(settings: LoggerSettings, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = { level: settings.level, base: { app: 'parley' } };
  if (settings.pretty && !destination) {
    // A media thread formats its own lines in its own thread (a transport would start
    // one more thread per media thread), written to the same stdout as the main thread's.
    if (!isMainThread) return pino(options, pinoPretty(PRETTY));
    const transport = pino.transport({ target: 'pino-pretty', options: PRETTY }) as unknown as TransportStream;
    const log = pino(options, transport as unknown as NodeJS.WritableStream);
    transports.set(log, transport);
    return log;
  }
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Ends `log`'s output before a process's last plain words (`parley: cannot start: …`): resolves
 * once every line logged so far is written. A pretty logger's lines are formatted and written by
 * pino-pretty's thread, which logger.flush() does not wait for (pino's docs/asynchronous.md,
 * "Flush Limitations with pino-pretty"): its transport is ended and its 'close' (the thread has
 * ended its output and exited) awaited. Lines logged afterwards are dropped.
 */
export async function endLogger(log: Logger): Promise<void> {
  const transport = transports.get(log);
  if (!transport) {
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    return;
  }
  if (transport.closed) return;
  // A line logged after the end makes the transport emit 'error' ("the worker is ending"): dropped.
  transport.on('error', () => undefined);
  // pino unrefs the thread once it is ready, and a thread still starting (a start-up that failed
  // at once, a busy machine) becomes ready after an end began: a ref on it did not keep the process
  // up, which ended (exit code 0, no last words) before 'close'. A timer holds the event loop until
  // then (thread-stream gives an end 10 s before it ends the thread: 15 s at most here).
  let hold: NodeJS.Timeout | undefined;
  // Not events.once: it rejects on 'error', and a failed end still ends in 'close'.
  const closed = new Promise<void>((resolve) => {
    transport.once('close', () => resolve());
    hold = setTimeout(resolve, 15_000);
  });
  transport.end();
  await closed;
  clearTimeout(hold);
}

/** Loggers made by createLogger and silentLogger: the roots componentLogger rebuilds a child from. */
const roots = new WeakSet<Logger>();

/**
 * A child of `parent` that names another `component`. pino writes a child's bindings after its
 * parent's without merging them, so `parent.child({ component })` under a parent that names one
 * wrote `"component"` twice in one JSON line, which strict readers refuse (Elasticsearch rejects
 * a document with a duplicate field) and others read as either. The child is made from the root
 * (pino's children inherit from their parent: the root is the first logger of the chain made
 * here) with the parent's other bindings and this component; a parent of another origin gets a
 * plain child.
 */
export function componentLogger(parent: Logger, component: string, extra: Record<string, unknown> = {}): Logger {
  let root: object | null = parent;
  while (root !== null && !roots.has(root as Logger)) root = Object.getPrototypeOf(root) as object | null;
  const bindings = parent.bindings();
  if (root === null || !('component' in bindings)) return parent.child({ component, ...extra });
  const base = (root as Logger).bindings();
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(bindings)) if (k !== 'component' && !(k in base)) own[k] = v;
  const child = (root as Logger).child({ ...own, component, ...extra });
  child.level = parent.level;
  return child;
}

/** The child logger for one call: every line it writes names the call. */
export function callLogger(parent: Logger, callId: string, extra: Record<string, unknown> = {}): Logger {
  return parent.child({ callId, ...extra });
}

/** A logger that writes nothing, for unit tests and tools. */
export function silentLogger(): Logger {
  const log = pino({ level: 'silent' });
  roots.add(log);
  return log;
}

// A media thread (worker_threads): owns the rooms the main thread gives it,
// their legs' sockets, mixers and codecs (MediaThreadRuntime). Started by
// MediaThreadHandle through media-thread-boot.mjs.
import { parentPort, workerData } from 'node:worker_threads';
import { opusEngineName } from '../../mixer/codecs/opus-engine.ts';
import { createLogger, componentLogger } from '../../util/logger.ts';
import type { MediaCommand, MediaEvent, MediaThreadInit } from './protocol.ts';
import { MediaThreadRuntime } from './media-thread-runtime.ts';
import { MessageBatcher, unbatch, type Batch } from './message-batcher.ts';

const init = workerData as MediaThreadInit;
const port = parentPort!;
const log = componentLogger(createLogger({ level: init.logLevel, pretty: init.logPretty }), 'media-thread', { thread: init.index });
// Events leave combined per turn (a mixer tick that ends several sources posts once).
const out = new MessageBatcher<MediaEvent>((m) => port.postMessage(m));
const runtime = new MediaThreadRuntime(init, (e: MediaEvent) => out.push(e), log);
port.on('message', (m: MediaCommand | Batch<MediaCommand>) => unbatch(m, (cmd) => runtime.handle(cmd)));
// Shut down (engine close): what this turn posted goes, then the port closes and the loop ends.
runtime.shutDown = () => {
  out.flush();
  port.close();
};
// How media-thread-boot.mjs loaded this code: its bundle (made at setup) or the TypeScript through tsx.
const entry = (globalThis as { parleyMediaThreadEntry?: string }).parleyMediaThreadEntry === 'bundle' ? 'bundle' : 'source';
port.postMessage({ type: 'ready', entry, opus: opusEngineName() } satisfies MediaEvent);

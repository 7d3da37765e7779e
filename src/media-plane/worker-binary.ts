// Finds the mediasoup-worker binary: config, then MEDIASOUP_WORKER_BIN, then the
// cache that media/build-worker.sh fills (newest build of the pinned version).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { version as mediasoupVersion } from 'mediasoup';

const SETUP = "run 'bash scripts/setup.sh' (it builds the worker once, about five minutes on two cores, and prints its path)";

export class WorkerBinaryError extends Error {
  override name = 'WorkerBinaryError';
  constructor(
    message: string,
    /** What to do about it, for someone who just ran the start command. */
    readonly hint: string,
  ) {
    super(message);
  }
}

export function resolveWorkerBinary(configured: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) {
    if (!existsSync(configured)) throw new WorkerBinaryError(`media.workerBin: ${configured} does not exist`, `fix media.workerBin, or remove it to use MEDIASOUP_WORKER_BIN or the cached build; to build one, ${SETUP}`);
    return configured;
  }
  const fromEnv = env.MEDIASOUP_WORKER_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new WorkerBinaryError(`MEDIASOUP_WORKER_BIN: ${fromEnv} does not exist`, `${SETUP} and set MEDIASOUP_WORKER_BIN to that path, or unset it to use the cached build`);
    return fromEnv;
  }
  const cache = env.PARLEY_CACHE ?? join(homedir(), '.cache', 'parley');
  const prefix = `mediasoup-worker-${mediasoupVersion}-`;
  const candidates = existsSync(cache)
    ? readdirSync(cache)
        .filter((f) => f.startsWith(prefix) && !f.endsWith('.tmp'))
        .map((f) => join(cache, f))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    : [];
  if (candidates[0]) return candidates[0];
  throw new WorkerBinaryError(
    `no mediasoup worker ${mediasoupVersion} found: run 'bash media/build-worker.sh' ` +
      `or set MEDIASOUP_WORKER_BIN (looked in ${cache})`,
    `${SETUP}; 'bash scripts/start.sh' runs it before starting`,
  );
}

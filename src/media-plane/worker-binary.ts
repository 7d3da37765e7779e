// Finds the mediasoup-worker binary: config, then MEDIASOUP_WORKER_BIN, then the
// cache that media/build-worker.sh fills (newest build of the pinned version).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { version as mediasoupVersion } from 'mediasoup';

export class WorkerBinaryError extends Error {
  override name = 'WorkerBinaryError';
}

export function resolveWorkerBinary(configured: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) {
    if (!existsSync(configured)) throw new WorkerBinaryError(`media.workerBin: ${configured} does not exist`);
    return configured;
  }
  const fromEnv = env.MEDIASOUP_WORKER_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new WorkerBinaryError(`MEDIASOUP_WORKER_BIN: ${fromEnv} does not exist`);
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
  );
}

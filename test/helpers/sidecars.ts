// Reading the recording sidecars (<id>.json) a test's Parley wrote: every one in
// a folder (none while the folder does not exist yet), or only the final ones.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Sidecar = any;

export function readSidecars(dir: string): Sidecar[] {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
}

/** The sidecars of recordings that were closed: no longer 'recording', the mix hashed. */
export function finalSidecars(dir: string): Sidecar[] {
  return readSidecars(dir).filter((m) => m.state !== 'recording' && m.mix?.sha256);
}

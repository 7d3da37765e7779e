// Key rotation: every recording's data key re-wrapped by a new master key. Only
// the `<id>.key` files change (atomically, one at a time); the audio and the
// sidecars are not rewritten. A recording already under the new key is skipped,
// so an interrupted rotation is simply run again. A key file without its sidecar
// (a recording deleted by a Parley that left its key file behind) is not touched:
// re-wrapped, it would be uploaded again under a deleted recording's prefix.
import { lstat, readdir } from 'node:fs/promises';
import { pathInside } from '../file-names.ts';
import { readKeyFile, unwrapDataKey, wrapDataKey, writeKeyFile } from './key-file.ts';
import type { MasterKey } from './master-key.ts';

export interface RotationResult {
  rotated: string[];
  /** Already wrapped by the new master key. */
  current: string[];
  failed: { id: string; error: string }[];
  /** Key files whose recording is gone (no sidecar): left as they are. */
  orphaned: string[];
}

export async function rotateKeys(dir: string, next: MasterKey, old: MasterKey[]): Promise<RotationResult> {
  const out: RotationResult = { rotated: [], current: [], failed: [], orphaned: [] };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const name of names.filter((n) => n.endsWith('.key')).sort()) {
    const id = name.slice(0, -'.key'.length);
    const path = pathInside(dir, name);
    if (!(await lstat(pathInside(dir, `${id}.json`)).catch(() => null))?.isFile()) {
      out.orphaned.push(id);
      continue;
    }
    try {
      const k = await readKeyFile(path, id);
      if (k.keyId === next.id) {
        out.current.push(id);
        continue;
      }
      const dataKey = unwrapDataKey(old, k);
      await writeKeyFile(path, { ...k, keyId: next.id, wrapped: wrapDataKey(next, id, dataKey), rotatedAt: new Date().toISOString() });
      out.rotated.push(id);
    } catch (err) {
      out.failed.push({ id, error: (err as Error).message });
    }
  }
  return out;
}

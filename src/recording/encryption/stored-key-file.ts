// A recording's `<id>.key` in recording.store compared with the local one. Rotation
// rewrites the local key file; the bucket's copy must follow, or once the old
// master key is retired (and the local disk lost) the bucket's audio cannot be
// decrypted. The object is small (a few hundred bytes): it is downloaded and
// compared byte for byte, not trusted by its metadata.
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pathInside } from '../file-names.ts';
import { keyFileName } from './key-file.ts';

/** The part of S3Bucket this needs. */
export interface KeyObjectStore {
  keyOf(id: string, file: string): string;
  urlOf(key: string): string;
  get(key: string): Promise<{ size: number; stream: Readable } | null>;
}

export type StoredKeyState =
  /** No local key file: not an encrypted recording (nothing to compare). */
  | { state: 'no-local' }
  /** No object: the recording (or its key file) is not uploaded yet. */
  | { state: 'absent'; url: string }
  | { state: 'same'; url: string }
  | { state: 'differs'; url: string; localKeyId: string | null; storedKeyId: string | null };

function keyIdOf(data: Buffer): string | null {
  try {
    const k = JSON.parse(data.toString('utf8')) as { keyId?: unknown };
    return typeof k.keyId === 'string' ? k.keyId : null;
  } catch {
    return null;
  }
}

/** Throws when the bucket cannot be read (never a pass). */
export async function compareStoredKeyFile(store: KeyObjectStore, dir: string, id: string): Promise<StoredKeyState> {
  const file = keyFileName(id);
  let local: Buffer;
  try {
    local = await readFile(pathInside(dir, file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'no-local' };
    throw err;
  }
  const key = store.keyOf(id, file);
  const url = store.urlOf(key);
  const got = await store.get(key);
  if (!got) return { state: 'absent', url };
  const parts: Buffer[] = [];
  for await (const c of got.stream) parts.push(c as Buffer);
  const stored = Buffer.concat(parts);
  if (stored.equals(local)) return { state: 'same', url };
  return { state: 'differs', url, localKeyId: keyIdOf(local), storedKeyId: keyIdOf(stored) };
}

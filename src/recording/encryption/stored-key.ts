// A recording's key file from wherever it still is: `<id>.key` beside the sidecar,
// else (recording.store) the `<id>.key` object the uploader put in the bucket. A
// lost local key file must not make a recording that the bucket can still open
// undecryptable; neither copy is a KeyUnwrapError 'missing' naming both places.
import type { Readable } from 'node:stream';
import { pathInside } from '../file-names.ts';
import { keyFileName, KeyUnwrapError, parseKeyFile, readKeyFile, type KeyFile } from './key-file.ts';

/** The part of S3Bucket this reads. */
export interface KeyObjectStore {
  keyOf(id: string, file: string): string;
  urlOf(key: string): string;
  get(key: string): Promise<{ size: number; stream: Readable } | null>;
}

/** A key file is ~300 bytes; an object far larger is not one (and is not read whole). */
const MAX_KEY_OBJECT = 64 * 1024;

export async function readStoredKeyFile(dir: string, id: string, bucket: KeyObjectStore | null | undefined): Promise<{ k: KeyFile; from: 'local' | 'bucket' }> {
  try {
    return { k: await readKeyFile(pathInside(dir, keyFileName(id)), id), from: 'local' };
  } catch (err) {
    if (!(err instanceof KeyUnwrapError && err.reason === 'missing') || !bucket) throw err;
    const key = bucket.keyOf(id, keyFileName(id));
    let got;
    try {
      got = await bucket.get(key);
    } catch (e) {
      throw new Error(`recording ${id}: no key file ${keyFileName(id)} on disk, and recording.store cannot be read for ${bucket.urlOf(key)}: ${(e as Error).message}`);
    }
    if (!got) throw new KeyUnwrapError(`recording ${id}: no key file ${keyFileName(id)}, neither on disk nor in ${bucket.urlOf(key)}: nothing can decrypt it`, 'missing');
    if (got.size > MAX_KEY_OBJECT) {
      got.stream.destroy();
      throw new KeyUnwrapError(`recording ${id}: ${bucket.urlOf(key)} has ${got.size} bytes: not a key file`, 'corrupt');
    }
    const parts: Buffer[] = [];
    for await (const c of got.stream) parts.push(c as Buffer);
    return { k: parseKeyFile(Buffer.concat(parts).toString('utf8'), id), from: 'bucket' };
  }
}

// What GET /recordings/:id/files/:file streams: the local file (opened with the
// checks of recording-file.ts), or, once the uploader removed it, the object in
// recording.store (streamed through, never buffered whole); an encrypted audio
// file is decrypted on the way (chunk by chunk) into a WAV. Errors that happen
// before the first byte are precise ApiErrors: a wrong master key, a key file
// missing on disk and in the bucket (else the bucket's `<id>.key` is used), a file
// that is neither here nor in the bucket.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { finished, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decryptedWav, type ByteSource } from '../recording/encryption/decrypt-reader.ts';
import { EncryptedFileError } from '../recording/encryption/chunk-format.ts';
import { KeyUnwrapError } from '../recording/encryption/key-file.ts';
import type { RecordingMetadata } from '../recording/metadata.ts';
import type { RecordingService } from '../recording/recording-service.ts';
import { ApiError } from './api-error.ts';
import { BucketCopies, CopiesBusyError } from './bucket-copies.ts';
import { parseByteRange, RangeNotSatisfiable, type ByteRange } from './byte-range.ts';
import { openRecordingFile, RecordingFileError } from './recording-file.ts';

export interface Download {
  size: number;
  stream: Readable | null;
  /** Where it came from, for the log (and the audit log's export entry). */
  from: 'local' | 'bucket';
  decrypted: boolean;
  /** The byte range sent (206), of a file of `total` bytes; absent: all of it. */
  range?: ByteRange & { total: number };
  /**
   * With `hash`: the sha256 of the whole stored file (sealed: the ciphertext that is
   * decrypted on the way, what the sidecar hashes), read before the first byte goes,
   * a range or not; a bucket object is first copied to a temporary file while hashed,
   * and that copy is what is sent (the range cut from it; kept a while and reused while
   * the object's ETag holds: bucket-copies.ts). Null without `hash`.
   */
  sha256: string | null;
}

function audioFiles(m: RecordingMetadata): Set<string> {
  return new Set([m.mix?.file, m.stereo?.file, ...(m.legs ?? []).flatMap((l) => l.stems.map((s) => s.file))].filter((f): f is string => !!f));
}

/**
 * `o.body` false (a HEAD): the size only, no stream (a file sent as it is is not read at all).
 * `o.range`: the request's Range header, honoured for a file sent as it is (local or
 * from the bucket), cut from the bytes hashed when `o.hash`; a sealed file is decrypted
 * from its start, so it is always sent whole (200).
 */
export async function openDownload(
  recs: RecordingService | null,
  dir: string,
  id: string,
  meta: RecordingMetadata,
  file: string,
  o: { hash?: boolean; range?: string; copies?: BucketCopies; body?: boolean } = {},
): Promise<Download> {
  const sealed = meta.encryption !== undefined && audioFiles(meta).has(file);
  let src: ByteSource & { close?: () => Promise<void> };
  let from: Download['from'] = 'local';
  let object: BucketObject | null = null;
  try {
    const { handle, size } = await openRecordingFile(dir, file);
    src = {
      size,
      read: (start, end) => handle.createReadStream({ start, end, autoClose: false }),
      close: () => handle.close(),
    };
  } catch (err) {
    if (!(err instanceof RecordingFileError && err.kind === 'not_found')) throw err;
    const store = recs?.store;
    if (!store) throw new ApiError(404, 'not_found', `file '${file}' is not on disk`);
    const key = store.bucket.keyOf(id, file);
    const head = await store.bucket.head(key).catch((e: unknown) => {
      throw new ApiError(502, 'store_unavailable', `file '${file}' is not on disk and recording.store cannot be read: ${(e as Error).message}`);
    });
    if (!head) throw new ApiError(404, 'not_found', `file '${file}' is neither on disk nor in recording.store`);
    from = 'bucket';
    const obj: BucketObject = { key, etag: head.etag, fetchedEtag: null };
    object = obj;
    src = {
      size: head.size,
      read: async (start, end) => {
        const got = await store.bucket.get(key, start, end);
        if (!got) throw new Error(`${store.bucket.urlOf(key)} disappeared`);
        obj.fetchedEtag = got.etag;
        return got.stream;
      },
    };
  }
  let sha256: string | null = null;
  try {
    // A range past the end is refused before the file is read (or an object fetched) for nothing.
    if (!sealed && parseByteRange(o.range, src.size) === 'unsatisfiable') throw new RangeNotSatisfiable(src.size, o.range!);
    if (o.hash) ({ src, sha256 } = object ? await copiedSource(src, object, o.copies) : await hashedSource(src));
    if (!sealed) {
      const r = parseByteRange(o.range, src.size);
      if (r === 'unsatisfiable') throw new RangeNotSatisfiable(src.size, o.range!);
      if (r) return { size: r.end - r.start + 1, stream: await streamClosing(src, src.read(r.start, r.end)), from, decrypted: false, range: { ...r, total: src.size }, sha256 };
      if (src.size > 0 && o.body !== false) return { size: src.size, stream: await streamClosing(src, src.read(0, src.size - 1)), from, decrypted: false, sha256 };
      // Nothing to stream (an empty file, or a HEAD: a bucket object is not even fetched), so
      // nothing would ever close the descriptor (or release a bucket object's copy): closed here.
      await src.close?.();
      return { size: src.size, stream: null, from, decrypted: false, sha256 };
    }
    const enc = recs?.encryption;
    if (!enc) throw new ApiError(409, 'encrypted', `recording '${id}' is encrypted and recording.encryption is not configured here`);
    let key: Buffer;
    try {
      key = await enc.storedDataKey(dir, id, recs?.store?.bucket);
    } catch (e) {
      // None of these is the server's fault: a key wrapped by another master key, a key
      // file lost (on disk and in recording.store) or altered: 409 saying which.
      if (e instanceof KeyUnwrapError) throw new ApiError(409, `key_${e.reason}`, e.message);
      throw new ApiError(502, 'store_unavailable', (e as Error).message);
    }
    try {
      const { size, stream } = await decryptedWav(src, key, file);
      return { size, stream: await streamClosing(src, stream), from, decrypted: true, sha256 };
    } catch (e) {
      if (e instanceof EncryptedFileError) throw new ApiError(409, 'not_decryptable', e.message);
      throw e;
    }
  } catch (err) {
    await src.close?.().catch(() => undefined);
    throw err;
  }
}

type Source = ByteSource & { close?: () => Promise<void> };

interface BucketObject {
  key: string;
  /** The HEAD's. */
  etag: string | null;
  /** The last GET's (what a copy holds). */
  fetchedEtag: string | null;
}

/** 503: the copies of bucket objects in use fill api.bucketCopiesMaxBytes; the route adds Retry-After. */
export class CopiesBusy extends ApiError {
  readonly retryAfterSec: number;
  constructor(err: CopiesBusyError) {
    super(503, 'busy', `too many downloads from recording.store at once: ${err.message}; try again later`);
    this.retryAfterSec = err.retryAfterSec;
  }
}

/** Without a BucketCopies: a copy for one download (no ETag given, so never kept). */
const ONCE = new BucketCopies();

/** The sha256 of a local file (what is sent), read once to hash it; it is then sent from the same descriptor. */
async function hashedSource(src: Source): Promise<{ src: Source; sha256: string }> {
  const h = createHash('sha256');
  if (src.size > 0) for await (const c of await src.read(0, src.size - 1)) h.update(c as Buffer);
  return { src, sha256: h.digest('hex') };
}

/**
 * A bucket object's sha256 and the source to send it from: a temporary copy made while
 * it was hashed, so the bytes sent are the bytes hashed whatever the bucket answers
 * meanwhile. With `copies`, the copy is shared and kept (bucket-copies.ts): a Range
 * request for an object whose ETag has not changed fetches nothing again.
 */
async function copiedSource(src: Source, object: BucketObject, copies: BucketCopies | undefined): Promise<{ src: Source; sha256: string }> {
  const fill = async (path: string): Promise<{ sha256: string; etag: string | null; size: number }> => {
    const h = createHash('sha256');
    let size = 0;
    const input = src.size > 0 ? await src.read(0, src.size - 1) : Readable.from([]);
    await pipeline(
      input,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) {
          h.update(c);
          size += c.length;
          yield c;
        }
      },
      createWriteStream(path, { mode: 0o600 }),
    );
    // An empty object is not fetched: its HEAD's ETag stands for it.
    return { sha256: h.digest('hex'), etag: src.size > 0 ? object.fetchedEtag : object.etag, size };
  };
  let copy;
  try {
    copy = await (copies ?? ONCE).acquire(object.key, copies ? object.etag : null, fill, src.size);
  } catch (err) {
    if (err instanceof CopiesBusyError) throw new CopiesBusy(err);
    throw new ApiError(502, 'store_unavailable', `the object of this file cannot be read from recording.store: ${(err as Error).message}`);
  }
  const release = copy.release;
  try {
    const handle = await open(copy.path, 'r');
    return {
      sha256: copy.sha256,
      src: {
        size: copy.size,
        read: (start, end) => handle.createReadStream({ start, end, autoClose: false }),
        close: () => handle.close().finally(release),
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * The stream, with the local descriptor closed when it ends, fails or is destroyed (the
 * client went away). 'close' alone is not enough: a FileHandle's read stream made with
 * autoClose false is not destroyed at its end, so it never emits 'close', and every
 * download used to leave its descriptor open until the garbage collector found it.
 */
async function streamClosing(src: { close?: () => Promise<void> }, s: Readable | Promise<Readable>): Promise<Readable> {
  const stream = await s;
  if (src.close) {
    const close = src.close;
    const cleanup = finished(stream, () => {
      cleanup();
      close().catch(() => undefined);
    });
  }
  return stream;
}

// The one module that talks to @aws-sdk/client-s3 (the rest of Parley sees put,
// head, get, a narrow surface): a bucket of AWS S3 or of an S3-compatible server
// (path-style addressing). Checksums are sent and checked only when required
// (requestChecksumCalculation WHEN_REQUIRED): with the SDK's default, a streamed
// PutObject reaches some S3-compatible servers still in aws-chunked framing and
// is stored corrupted. Integrity is ours instead: Content-MD5 on every PUT (the
// server refuses a body that does not match it) and a HEAD afterwards.
// The SDK is imported when the first bucket is made, not with this module: it is
// the largest of Parley's dependencies (about half a second to load), and a Parley
// without a recording store, or a CLI command that does not reach one, never needs it.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { RecordingStoreConfig } from '../../config/recording-store-schema.ts';

type Sdk = typeof import('@aws-sdk/client-s3');
let sdkLoading: Promise<Sdk> | null = null;
const loadSdk = (): Promise<Sdk> => (sdkLoading ??= import('@aws-sdk/client-s3'));

export interface ObjectHead {
  size: number;
  /** The ETag without quotes (an MD5 in hex for a single-part upload without SSE-KMS). */
  etag: string | null;
  /** Our own x-amz-meta-sha256. */
  sha256: string | null;
}

/** Told the ID of each multipart upload begun, then that it ended (completed or aborted). */
export interface UploadIds {
  begun(uploadId: string): Promise<void>;
  ended(uploadId: string): Promise<void>;
}

export class BucketError extends Error {
  override name = 'BucketError';
  constructor(
    message: string,
    /** HTTP status when the server answered (500, 403…); null for a network failure. */
    readonly status: number | null,
  ) {
    super(message);
  }
}

export class S3Bucket {
  readonly bucket: string;
  readonly prefix: string;
  /** The SDK and the client, once the SDK is loaded. */
  private readonly ready: Promise<{ sdk: Sdk; client: S3Client }>;
  private client: S3Client | null = null;
  private closed = false;

  constructor(c: RecordingStoreConfig) {
    this.bucket = c.bucket;
    this.prefix = c.prefix ?? '';
    this.ready = loadSdk().then((sdk) => {
      const client = this.makeClient(sdk, c);
      // Closed while the SDK loaded: the client is made only to be let go.
      if (this.closed) client.destroy();
      else this.client = client;
      return { sdk, client };
    });
    // A failure to load reaches the first call that needs the bucket.
    this.ready.catch(() => undefined);
  }

  private makeClient(sdk: Sdk, c: RecordingStoreConfig): S3Client {
    return new sdk.S3Client({
      region: c.region ?? 'us-east-1',
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      forcePathStyle: c.forcePathStyle ?? true,
      ...(c.accessKeyId && c.secretAccessKey ? { credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Our uploader retries with its own back-off (and journal); one SDK attempt each.
      maxAttempts: 1,
      // An endpoint that accepts connections but never answers must fail too (then be retried).
      requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
    });
  }

  /** The object key of a recording's file: `<prefix><id>/<file>` (the same on every retry). */
  keyOf(id: string, file: string): string {
    return `${this.prefix}${id}/${file}`;
  }

  /** Where an object is, for logs and events. */
  urlOf(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async put(key: string, path: string, size: number, md5: Buffer, sha256: string): Promise<void> {
    const { sdk, client } = await this.sdk(`PUT ${this.urlOf(key)}`);
    const body = await bodyOf(path).catch((err: unknown) => {
      throw wrap(sdk, err, `PUT ${this.urlOf(key)}`);
    });
    try {
      await client.send(
        new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: size,
          ContentMD5: md5.toString('base64'),
          Metadata: { sha256 },
        }),
      );
    } catch (err) {
      throw wrap(sdk, err, `PUT ${this.urlOf(key)}`);
    } finally {
      body.destroy();
    }
  }

  /**
   * A file too large for one PUT (S3 takes at most 5 GiB in one), sent in parts of
   * `partBytes` (the last one shorter), each with its Content-MD5; the sha256 of the whole
   * file goes in the upload's metadata as with put(). The upload's ID is given to
   * `ids.begun` before the first part (a process killed meanwhile leaves parts stored: the
   * next start aborts them by that ID) and to `ids.ended` once it is completed or aborted.
   * A failure aborts the upload; an abort that fails too leaves the ID with `ids` (not ended).
   */
  async putParts(key: string, path: string, size: number, partBytes: number, sha256: string, ids: UploadIds): Promise<void> {
    const what = `PUT ${this.urlOf(key)} (in parts)`;
    const { sdk, client } = await this.sdk(what);
    let uploadId: string | undefined;
    try {
      uploadId = (await client.send(new sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, Metadata: { sha256 } }))).UploadId;
      if (!uploadId) throw new Error('no UploadId in the answer');
      await ids.begun(uploadId);
      const parts: { PartNumber: number; ETag: string }[] = [];
      for (let n = 1, start = 0; start < size; n++, start += partBytes) {
        const end = Math.min(size, start + partBytes) - 1;
        const md5 = await md5Of(path, start, end);
        const body = await bodyOf(path, start, end);
        try {
          const r = await client.send(
            new sdk.UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: end - start + 1, ContentMD5: md5.toString('base64') }),
          );
          parts.push({ PartNumber: n, ETag: r.ETag ?? '' });
        } finally {
          body.destroy();
        }
      }
      await client.send(new sdk.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      if (uploadId) {
        const id = uploadId;
        await this.abortUpload(key, id).then(() => ids.ended(id), () => undefined);
      }
      throw wrap(sdk, err, what);
    }
    await ids.ended(uploadId);
  }

  /**
   * Aborts a multipart upload: its parts are removed. Resolves false when the server has no
   * such upload (NoSuchUpload: completed or aborted already), true when it was aborted.
   */
  async abortUpload(key: string, uploadId: string): Promise<boolean> {
    const what = `ABORT ${this.urlOf(key)} (upload ${uploadId})`;
    const { sdk, client } = await this.sdk(what);
    try {
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
      return true;
    } catch (err) {
      if (err instanceof sdk.S3ServiceException && (err.name === 'NoSuchUpload' || err.$metadata.httpStatusCode === 404)) return false;
      throw wrap(sdk, err, what);
    }
  }

  /** null when there is no such object. */
  async head(key: string): Promise<ObjectHead | null> {
    const { sdk, client } = await this.sdk(`HEAD ${this.urlOf(key)}`);
    try {
      const r = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: r.ContentLength ?? -1, etag: r.ETag?.replace(/"/g, '') ?? null, sha256: r.Metadata?.sha256 ?? null };
    } catch (err) {
      if (err instanceof sdk.S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey')) return null;
      throw wrap(sdk, err, `HEAD ${this.urlOf(key)}`);
    }
  }

  /** Bytes [start, end] (inclusive) of an object, or all of it; null when there is no such object. */
  async get(key: string, start?: number, end?: number): Promise<{ size: number; etag: string | null; stream: Readable } | null> {
    const { sdk, client } = await this.sdk(`GET ${this.urlOf(key)}`);
    try {
      const range = start === undefined ? undefined : `bytes=${start}-${end ?? ''}`;
      const r = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: range } : {}) }));
      return { size: r.ContentLength ?? -1, etag: r.ETag?.replace(/"/g, '') ?? null, stream: r.Body as Readable };
    } catch (err) {
      if (err instanceof sdk.S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NoSuchKey')) return null;
      throw wrap(sdk, err, `GET ${this.urlOf(key)}`);
    }
  }

  /** The keys (with sizes) under `<prefix><id>/`: every object of one recording. */
  async listRecording(id: string): Promise<{ key: string; size: number }[]> {
    const prefix = this.keyOf(id, '');
    const { sdk, client } = await this.sdk(`LIST ${this.urlOf(prefix)}`);
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      try {
        const r = await client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? -1 });
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } catch (err) {
        throw wrap(sdk, err, `LIST ${this.urlOf(prefix)}`);
      }
    } while (token);
    return out;
  }

  /** Removes an object (no error when it is already gone). */
  async delete(key: string): Promise<void> {
    const { sdk, client } = await this.sdk(`DELETE ${this.urlOf(key)}`);
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      throw wrap(sdk, err, `DELETE ${this.urlOf(key)}`);
    }
  }

  /** The loaded SDK and the client; a failure to load the SDK is a BucketError of `what`. */
  private async sdk(what: string): Promise<{ sdk: Sdk; client: S3Client }> {
    try {
      return await this.ready;
    } catch (err) {
      throw wrap(null, err, what);
    }
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client?.destroy();
  }
}

/**
 * A request body read from `path` (bytes [start, end]), opened before it is handed over. A
 * read stream opens its file after it is made: one whose request failed first (the endpoint
 * refused, the client closed) was destroyed before the open completed, and the open's error
 * (the uploader's /proc/self/fd path of a descriptor closed meanwhile) was still emitted,
 * with no listener: an uncaught exception, which ends the process. The stream closes the
 * file when destroyed. The SDK pipes the body without listening for its errors: a read
 * error later (EIO) now leaves its request to the request timeout (then retried) rather
 * than ending the process.
 */
async function bodyOf(path: string, start?: number, end?: number): Promise<Readable> {
  const fh = await open(path, 'r');
  const body = fh.createReadStream({ start, end });
  body.on('error', () => undefined);
  return body;
}

async function md5Of(path: string, start: number, end: number): Promise<Buffer> {
  const h = createHash('md5');
  for await (const c of createReadStream(path, { start, end, highWaterMark: 256 * 1024 })) h.update(c as Buffer);
  return h.digest();
}

function wrap(sdk: Sdk | null, err: unknown, what: string): BucketError {
  if (sdk && err instanceof sdk.S3ServiceException) {
    const status = err.$metadata.httpStatusCode ?? null;
    return new BucketError(`${what}: ${status ?? ''} ${err.name}: ${err.message}`.replace(/\s+/g, ' '), status);
  }
  const e = err as NodeJS.ErrnoException;
  return new BucketError(`${what}: ${e.code ?? e.name}: ${e.message}`, null);
}

// The one module that talks to @aws-sdk/client-s3 (the rest of Parley sees put,
// head, get, a narrow surface): a bucket of AWS S3 or of an S3-compatible server
// (path-style addressing). Checksums are sent and checked only when required
// (requestChecksumCalculation WHEN_REQUIRED): with the SDK's default, a streamed
// PutObject reaches some S3-compatible servers still in aws-chunked framing and
// is stored corrupted. Integrity is ours instead: Content-MD5 on every PUT (the
// server refuses a body that does not match it) and a HEAD afterwards.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { RecordingStoreConfig } from '../../config/recording-store-schema.ts';

export interface ObjectHead {
  size: number;
  /** The ETag without quotes (an MD5 in hex for a single-part upload without SSE-KMS). */
  etag: string | null;
  /** Our own x-amz-meta-sha256. */
  sha256: string | null;
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
  private readonly client: S3Client;
  private closed = false;

  constructor(c: RecordingStoreConfig) {
    this.bucket = c.bucket;
    this.prefix = c.prefix ?? '';
    this.client = new S3Client({
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
    const body = createReadStream(path);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: size,
          ContentMD5: md5.toString('base64'),
          Metadata: { sha256 },
        }),
      );
    } catch (err) {
      throw wrap(err, `PUT ${this.urlOf(key)}`);
    } finally {
      body.destroy();
    }
  }

  /** null when there is no such object. */
  async head(key: string): Promise<ObjectHead | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: r.ContentLength ?? -1, etag: r.ETag?.replace(/"/g, '') ?? null, sha256: r.Metadata?.sha256 ?? null };
    } catch (err) {
      if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey')) return null;
      throw wrap(err, `HEAD ${this.urlOf(key)}`);
    }
  }

  /** Bytes [start, end] (inclusive) of an object, or all of it; null when there is no such object. */
  async get(key: string, start?: number, end?: number): Promise<{ size: number; stream: Readable } | null> {
    try {
      const range = start === undefined ? undefined : `bytes=${start}-${end ?? ''}`;
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: range } : {}) }));
      return { size: r.ContentLength ?? -1, stream: r.Body as Readable };
    } catch (err) {
      if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NoSuchKey')) return null;
      throw wrap(err, `GET ${this.urlOf(key)}`);
    }
  }

  /** The keys (with sizes) under `<prefix><id>/`: every object of one recording. */
  async listRecording(id: string): Promise<{ key: string; size: number }[]> {
    const prefix = this.keyOf(id, '');
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      try {
        const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? -1 });
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } catch (err) {
        throw wrap(err, `LIST ${this.urlOf(prefix)}`);
      }
    } while (token);
    return out;
  }

  /** Removes an object (no error when it is already gone). */
  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      throw wrap(err, `DELETE ${this.urlOf(key)}`);
    }
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }
}

function wrap(err: unknown, what: string): BucketError {
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode ?? null;
    return new BucketError(`${what}: ${status ?? ''} ${err.name}: ${err.message}`.replace(/\s+/g, ' '), status);
  }
  const e = err as NodeJS.ErrnoException;
  return new BucketError(`${what}: ${e.code ?? e.name}: ${e.message}`, null);
}

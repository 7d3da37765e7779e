// The multipart uploads begun and not yet completed or aborted, a small file each in
// the recordings folder's state folder (`<recording.dir>/.parley/uploads-begun/`, which
// the folder's lock keeps to one Parley). A process killed during a multipart upload
// (kill -9, power loss) leaves its parts stored in the bucket, billed and invisible,
// until someone aborts the upload by its ID: an S3-compatible server need not offer
// ListMultipartUploads (s3rver does not) nor a lifecycle rule, so the ID is written
// down here before the first part is sent and removed after the Complete or the Abort.
// The next start (and any retry of that recording) aborts every ID still written here.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/logger.ts';
import type { S3Bucket, UploadIds } from './s3-bucket.ts';

export interface BegunUpload {
  uploadId: string;
  /** The object key the upload was begun for (AbortMultipartUpload names it too). */
  key: string;
  /** The recording and its file, for logs and to abort before that recording's retry. */
  recording: string;
  file: string;
  begunAt: string;
}

export class MultipartJournal {
  constructor(readonly dir: string) {}

  /** Written (and synced) before the first part is sent: a kill after it leaves the ID known. */
  async begun(u: BegunUpload): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const path = this.pathOf(u.uploadId);
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(u));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }

  /** After the upload's Complete or Abort (or a NoSuchUpload: it is gone either way). */
  async ended(uploadId: string): Promise<void> {
    await rm(this.pathOf(uploadId), { force: true });
  }

  /**
   * Every upload written down. A file that does not parse (a kill while it was written: the
   * temp file, never renamed) names no upload whose parts were sent: it is removed.
   */
  async list(): Promise<BegunUpload[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: BegunUpload[] = [];
    for (const n of names) {
      const path = join(this.dir, n);
      if (!n.endsWith('.json')) {
        if (n.endsWith('.json.tmp')) await rm(path, { force: true });
        continue;
      }
      try {
        const u = JSON.parse(await readFile(path, 'utf8')) as BegunUpload;
        if (typeof u.uploadId === 'string' && typeof u.key === 'string') out.push(u);
        else await rm(path, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') await rm(path, { force: true });
      }
    }
    return out;
  }

  /** What S3Bucket.putParts is given for one file: its ID written down before the first part, removed after. */
  idsFor(key: string, recording: string, file: string, log: Logger): UploadIds {
    return {
      begun: (uploadId) => this.begun({ uploadId, key, recording, file, begunAt: new Date().toISOString() }),
      // Not removed (a full disk): the next start aborts it, and the server answers NoSuchUpload.
      ended: (uploadId) => this.ended(uploadId).catch((err: unknown) => log.warn({ err, recording, file, uploadId }, 'a multipart upload ended but its ID could not be struck off (aborted again at the next start)')),
    };
  }

  /**
   * Aborts the uploads written down that `which` selects (their parts are removed from the
   * bucket) and strikes each off once the server aborted it or has no such upload. Resolves
   * with how many could not be aborted (the endpoint down…): they stay for the next try.
   */
  async abortLeft(bucket: S3Bucket, log: Logger, which: (u: BegunUpload) => boolean): Promise<number> {
    let failed = 0;
    for (const u of (await this.list()).filter(which)) {
      try {
        const aborted = await bucket.abortUpload(u.key, u.uploadId);
        await this.ended(u.uploadId);
        log.info({ recording: u.recording, file: u.file, uploadId: u.uploadId, aborted }, aborted ? 'a multipart upload a stopped process left was aborted (its parts removed)' : 'a multipart upload left written down was already gone from the bucket');
      } catch (err) {
        failed++;
        log.warn({ err, recording: u.recording, file: u.file, uploadId: u.uploadId }, 'a multipart upload a stopped process left could not be aborted yet');
      }
    }
    return failed;
  }

  /** Upload IDs are the server's (AWS: long, with `.`, `_`, `-`): the file is named by their hash. */
  private pathOf(uploadId: string): string {
    return join(this.dir, `${createHash('sha256').update(uploadId).digest('hex').slice(0, 32)}.json`);
  }
}

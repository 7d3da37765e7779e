// Uploads finalized recordings to the bucket of recording.store, after the steps
// before it (signing) so that the sidecar uploaded is the final one.
// - Object keys are `<prefix><id>/<file>`: a retry or a resumed upload writes the
//   same keys (idempotent); a file whose object already verifies is not sent again.
// - Verification, per file: HEAD must give the local size and, as ETag, the MD5
//   of the local file (a single-part PutObject with Content-MD5, which the server
//   checks on arrival). A server whose ETag is not an MD5 (multipart, SSE-KMS)
//   gets the object downloaded again and its SHA-256 compared.
// - A file past 5 GiB (the most one PutObject carries) is sent in parts, each with
//   its Content-MD5 (multipartAboveBytes, partBytes), and verified by download. Its
//   upload ID is written down first (multipart-journal.ts): the parts a kill left are
//   aborted at the next start and before that recording's next attempt.
// - Only when every file of the recording verified are the local audio files
//   removed (recording.store.deleteLocal); the sidecar and the key file stay (the
//   index of the recordings, and what key rotation rewrites), and are uploaded too.
// - A journal (upload-journal.ts) holds what is not verified yet: entries are
//   written before the first byte is sent and removed after the last check, so
//   uploads pending at a crash or a stop resume at the next start.
// - A failure (endpoint down, 500, a timeout) is retried with doubling back-off;
//   nothing local is touched meanwhile.
// - A recording being deleted (compliance: retention, an explicit delete) is withdrawn
//   first (withdraw()): its pending upload is cancelled and its journal entry removed,
//   a running attempt stops and reports nothing, a later enqueue is ignored; retention
//   instead waits while the upload is pending. An entry whose sidecar is gone (a
//   recording deleted by an older Parley) is dropped, never uploaded or reported.
import { postProcessingUnfinished } from '../finalize-recording.ts';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordingStoreConfig } from '../../config/recording-store-schema.ts';
import { componentLogger, type Logger } from '../../util/logger.ts';
import { TypedEmitter } from '../../util/typed-emitter.ts';
import { keyFileName } from '../encryption/key-file.ts';
import { pathInside } from '../file-names.ts';
import type { RecordingMetadata } from '../metadata.ts';
import { S3Bucket, type ObjectHead } from './s3-bucket.ts';
import { UploadJournal, type PendingUpload } from './upload-journal.ts';
import { MultipartJournal } from './multipart-journal.ts';
import { hashFile, hashStream, openUploadSource } from './upload-source.ts';

export interface StoredObject {
  file: string;
  key: string;
  url: string;
  size: number;
  sha256: string | null;
}

export interface StoredRecording {
  id: string;
  bucket: string;
  objects: StoredObject[];
  /** Local files removed after their objects verified. */
  removed: string[];
}

export type RecordingUploaderEvents = {
  /** Every file of the recording verified in the bucket (and the local audio removed when configured). */
  stored: [StoredRecording];
  /** An attempt failed; it is retried after `retryInMs`. */
  uploadFailed: [{ id: string; attempt: number; error: Error; retryInMs: number }];
};

export interface RecordingUploaderOptions {
  dir: string;
  config: RecordingStoreConfig;
  log: Logger;
  /** Files beside the sidecar also uploaded (and kept locally) when they exist, by suffix after the id; default the signature `.json.sig`. */
  companions?: string[];
  /** Recordings uploaded at once. */
  concurrency?: number;
  /** Files larger than this are sent in parts (default 5 GiB, the most S3 takes in one PUT). */
  multipartAboveBytes?: number;
  /** The size of those parts (default 64 MiB, more for a file that would need more than 10,000). */
  partBytes?: number;
}

/** The most one PutObject may carry (AWS S3: 5 GiB), and the most parts an upload may have. */
const SINGLE_PUT_MAX = 5 * 1024 ** 3;
const MAX_PARTS = 10_000;
const DEFAULT_PART = 64 * 1024 ** 2;

/** The journal's place by default: in the recordings folder (what its lock protects), not the working folder. */
const DEFAULT_JOURNAL = ['.parley', 'uploads-pending.json'];
/** Where it was by default before (relative to the working folder): its entries for this folder's recordings are taken over once. */
const LEGACY_JOURNAL = '.parley/uploads-pending.json';
/** The sidecar's signature (compliance signing: `<id>.json.sig`). */
const DEFAULT_COMPANIONS = ['.json.sig'];

export class RecordingUploader extends TypedEmitter<RecordingUploaderEvents> {
  readonly bucket: S3Bucket;
  private readonly journal: UploadJournal;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly ready: string[] = [];
  /** The attempt running for each recording. */
  private readonly running = new Map<string, Promise<unknown>>();
  /** Recordings being deleted (withdraw()): nothing of them is uploaded or reported again. */
  private readonly withdrawn = new Set<string>();
  /** Recordings between the start of enqueue() and their journal entry. */
  private readonly enqueuing = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly log: Logger;
  private closed = false;
  private readonly companions: string[];
  private loading: Promise<PendingUpload[]> | null = null;
  /** Multipart uploads begun and not ended; `sweep`: the start's abort of those a previous process left. */
  private readonly begun: MultipartJournal;
  private sweep: Promise<unknown> | null = null;
  /** Attempts that failed since start (metrics). */
  failedAttempts = 0;
  /** Recordings stored since start (metrics). */
  storedCount = 0;

  constructor(private readonly o: RecordingUploaderOptions) {
    super(o.log);
    this.log = componentLogger(o.log, 'recording-store');
    this.bucket = new S3Bucket(o.config);
    this.companions = o.companions ?? DEFAULT_COMPANIONS;
    this.journal = new UploadJournal(o.config.journalFile ?? join(o.dir, ...DEFAULT_JOURNAL), this.log);
    this.begun = new MultipartJournal(join(o.dir, '.parley', 'uploads-begun'));
  }

  /** Recordings whose upload is not verified yet. */
  get pending(): number {
    return this.journal.size;
  }

  /** Recordings that failed at least once and are waiting for a retry. */
  get failing(): number {
    return this.journal.all.filter((e) => e.attempts > 0).length;
  }

  /** Resumes the uploads a previous process left pending. */
  async start(): Promise<number> {
    // Not waited for here (the endpoint may be down at start); every attempt waits for it.
    this.sweep ??= this.begun.abortLeft(this.bucket, this.log, () => true).catch((err: unknown) => this.log.warn({ err }, 'multipart uploads left by a stopped process not aborted'));
    const left = await this.load();
    if (left.length > 0) this.log.info({ recordings: left.length }, 'resuming uploads left pending');
    for (const e of left) this.schedule(e.id, 0);
    return left.length;
  }

  private load(): Promise<PendingUpload[]> {
    this.loading ??= this.journal.load().then((left) => (left.length > 0 || this.o.config.journalFile !== undefined ? left : this.takeOverLegacy()));
    return this.loading;
  }
  /** The entries of the old default journal (in the working folder) whose recording is in this folder, moved to this one. */
  private async takeOverLegacy(): Promise<PendingUpload[]> {
    const legacy = new UploadJournal(LEGACY_JOURNAL, this.log);
    const mine: PendingUpload[] = [];
    for (const e of await legacy.load().catch(() => [])) {
      if (!(await stat(join(this.o.dir, `${e.id}.json`)).then(() => true, () => false))) continue;
      mine.push(e);
      await this.journal.put(e);
      await legacy.remove(e.id);
    }
    if (mine.length > 0) this.log.info({ recordings: mine.length, from: LEGACY_JOURNAL, to: this.journal.path }, 'pending uploads taken over from the old journal in the working folder');
    return mine;
  }


  /** The after-finalize step: journals the recording's files and starts their upload. */
  async enqueue(id: string, meta: RecordingMetadata): Promise<void> {
    // Also after close(): recordings closed at shutdown finalize afterwards; their
    // journal entry is what makes the next start upload them. One whose encoding a stop
    // cut short is uploaded once the next start finished it (the WAVs stay meanwhile).
    if (postProcessingUnfinished(meta)) {
      this.log.info({ recording: id }, 'upload waits for the post-processing the next start resumes');
      return;
    }
    if (this.withdrawn.has(id)) return;
    this.enqueuing.add(id);
    try {
      await this.journalled(id, meta);
    } finally {
      this.enqueuing.delete(id);
    }
  }

  private async journalled(id: string, meta: RecordingMetadata): Promise<void> {
    const files = [
      meta.mix,
      ...(meta.stereo ? [meta.stereo] : []),
      ...meta.legs.flatMap((l) => l.stems),
    ]
      .filter((f) => f.lost === undefined)
      .map((f) => f.file);
    files.push(...meta.postProcessed.map((p) => p.file));
    files.push(...(meta.siprec?.metadataVersions ?? []).filter((v) => v.sha256).map((v) => v.file));
    if (meta.encryption) files.push(meta.encryption.keyFile);
    for (const suffix of this.companions) {
      const name = `${id}${suffix}`;
      if (await stat(pathInside(this.o.dir, name)).then(() => true, () => false)) files.push(name);
    }
    files.push(`${id}.json`);
    // Never write the journal before the previous process's entries are read (they would be overwritten).
    await this.load().catch(() => undefined);
    // Deleted meanwhile (an explicit delete does not wait for the upload): nothing to upload.
    if (this.withdrawn.has(id)) return;
    await this.journal.put({ id, files, addedAt: new Date().toISOString(), attempts: 0, lastError: null });
    this.schedule(id, 0);
  }

  /** The after-finalize step `{ name: 'upload', run }`: it must run after signing (the sidecar uploaded is final). */
  finalizeStep(): { name: string; run: (r: { id: string; meta: RecordingMetadata }) => Promise<void> } {
    return { name: 'upload', run: (r) => this.enqueue(r.id, r.meta) };
  }

  /**
   * Before a recording is deleted: its upload stops for good. Its retry timer is cleared,
   * a running attempt is waited for (it stops at its next file and reports nothing), its
   * journal entry is removed, and a later enqueue is ignored. With `evenPending` false, a
   * recording whose upload is pending is left alone: resolves null (retention waits for the
   * upload). Otherwise resolves with an undo, for a delete that stopped before its audit
   * entry: the upload is pending again as it was.
   */
  async withdraw(id: string, evenPending: boolean): Promise<(() => Promise<void>) | null> {
    await this.load().catch(() => undefined);
    if (!evenPending && (this.enqueuing.has(id) || this.journal.has(id))) return null;
    this.withdrawn.add(id);
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    const i = this.ready.indexOf(id);
    if (i >= 0) this.ready.splice(i, 1);
    await this.running.get(id);
    const entry = this.journal.get(id) ?? null;
    if (entry) {
      await this.journal.remove(id);
      this.log.info({ recording: id, attempts: entry.attempts }, 'pending upload cancelled: the recording is deleted');
    }
    return async () => {
      this.withdrawn.delete(id);
      if (!entry || this.journal.has(id)) return;
      await this.journal.put(entry);
      this.schedule(id, 0);
    };
  }

  /** Resolves when no attempt is running (shutdown; tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /**
   * Synchronous, idempotent: no new attempts; those running fail and stay in the journal for
   * the next start, and none reports 'stored' afterwards. Close it before whatever listens to
   * 'stored' (the API, the compliance log): a report after they closed would be lost.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.ready.length = 0;
    this.bucket.close();
  }

  private schedule(id: string, delayMs: number): void {
    if (this.closed || this.withdrawn.has(id) || this.timers.has(id) || this.running.has(id)) return;
    if (delayMs <= 0) {
      if (!this.ready.includes(id)) this.ready.push(id);
      this.pump();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(id);
      this.schedule(id, 0);
    }, delayMs);
    t.unref();
    this.timers.set(id, t);
  }

  private pump(): void {
    const max = this.o.concurrency ?? 2;
    while (!this.closed && this.running.size < max && this.ready.length > 0) {
      const id = this.ready.shift()!;
      const entry = this.journal.get(id);
      if (!entry || this.withdrawn.has(id)) continue;
      const p: Promise<unknown> = this.attempt(entry)
        .catch((err: unknown) => {
          this.log.error({ err, recording: id }, 'upload attempt crashed');
          return this.o.config.retryMaxMs ?? 60_000;
        })
        .then((retryInMs) => {
          this.running.delete(id);
          this.inFlight.delete(p);
          if (retryInMs !== null) this.schedule(id, retryInMs);
          this.pump();
        });
      this.running.set(id, p);
      this.inFlight.add(p);
    }
  }

  /** Resolves with the delay of the next attempt, or null when there is none to make. */
  private async attempt(e: PendingUpload): Promise<number | null> {
    // The sidecar always stays local: without it the recording was deleted (by a Parley
    // from before withdraw()); its objects must not come back.
    if (!(await stat(pathInside(this.o.dir, `${e.id}.json`)).then(() => true, () => false))) {
      this.log.warn({ recording: e.id }, 'pending upload dropped: the recording is no longer in recording.dir (deleted)');
      await this.journal.remove(e.id);
      return null;
    }
    const objects: StoredObject[] = [];
    try {
      // Parts a killed attempt left go before this one sends its own (the sweep's failures are tried again).
      await this.sweep;
      if ((await this.begun.abortLeft(this.bucket, this.log, (u) => u.recording === e.id)) > 0) throw new Error('multipart uploads of an earlier attempt could not be aborted');
      for (const file of e.files) {
        if (this.closed) throw new Error('the uploader closed');
        if (this.withdrawn.has(e.id)) throw new Error('the recording is being deleted');
        const o = await this.uploadOne(e.id, file);
        if (o) objects.push(o);
      }
    } catch (err) {
      if (this.closed || this.withdrawn.has(e.id)) return null;
      const error = err as Error;
      this.failedAttempts++;
      const base = this.o.config.retryBaseMs ?? 1000;
      const max = this.o.config.retryMaxMs ?? 60_000;
      const retryInMs = Math.min(max, base * 2 ** Math.min(20, e.attempts));
      const next: PendingUpload = { ...e, attempts: e.attempts + 1, lastError: error.message };
      await this.journal.put(next);
      this.log.warn({ recording: e.id, attempt: next.attempts, err: error, retryInMs }, 'recording upload failed; retrying later');
      this.safeEmit('uploadFailed', { id: e.id, attempt: next.attempts, error, retryInMs });
      return retryInMs;
    }
    // Verified, but closed meanwhile: nobody may hear of it now (the API closes after the
    // uploader); the entry stays, and the next start verifies it again (sends nothing) and reports it.
    if (this.closed || this.withdrawn.has(e.id)) return null;
    // Every object verified: now, and only now, the local audio may go.
    const removed: string[] = [];
    if (this.o.config.deleteLocal ?? true) {
      const keep = new Set([`${e.id}.json`, keyFileName(e.id), ...this.companions.map((s) => `${e.id}${s}`)]);
      for (const o of objects) {
        // Metadata stays (the sidecar, key, signature, SIPREC metadata versions): only audio goes.
        if (keep.has(o.file) || (o.file.startsWith(`${e.id}.metadata-`) && o.file.endsWith('.xml'))) continue;
        await rm(pathInside(this.o.dir, o.file), { force: true });
        removed.push(o.file);
      }
    }
    if (this.closed || this.withdrawn.has(e.id)) return null;
    // Reported before the entry leaves the journal, in the same turn as the check above: the
    // 'stored' listeners (the webhook spool, the audit log) are still open. A crash before the
    // journal's write reports it once more at the next start, never not at all.
    this.storedCount++;
    const stored: StoredRecording = { id: e.id, bucket: this.bucket.bucket, objects, removed };
    this.log.info({ recording: e.id, objects: objects.length, removed: removed.length }, 'recording stored');
    this.safeEmit('stored', stored);
    await this.journal.remove(e.id);
    return null;
  }

  /** One file: sent unless its object already verifies; then verified. Null when it is neither local nor in the bucket. */
  private async uploadOne(id: string, file: string): Promise<StoredObject | null> {
    const path = pathInside(this.o.dir, file);
    const key = this.bucket.keyOf(id, file);
    const url = this.bucket.urlOf(key);
    const opened = await openUploadSource(path);
    if (!opened) {
      // Removed after an earlier attempt verified it (the journal entry was not yet removed).
      const h = await this.bucket.head(key);
      if (h) return { file, key, url, size: h.size, sha256: h.sha256 };
      this.log.error({ recording: id, file }, 'a file to upload is neither on disk nor in the bucket: skipped');
      return null;
    }
    const { handle, size, readPath } = opened;
    try {
      const { md5, sha256 } = await hashFile(readPath);
      const before = await this.bucket.head(key);
      if (!before || !(await this.verifies(key, before, size, md5, sha256))) {
        if (size > (this.o.multipartAboveBytes ?? this.o.config.multipartAboveBytes ?? SINGLE_PUT_MAX)) {
          const part = Math.max(this.o.partBytes ?? this.o.config.partBytes ?? DEFAULT_PART, Math.ceil(size / MAX_PARTS));
          await this.bucket.putParts(key, readPath, size, part, sha256, this.begun.idsFor(key, id, file, this.log));
        } else {
          await this.bucket.put(key, readPath, size, md5, sha256);
        }
        const after = await this.bucket.head(key);
        if (!after) throw new Error(`${url}: not found right after its upload`);
        if (!(await this.verifies(key, after, size, md5, sha256))) {
          throw new Error(`${url}: does not verify after its upload (size ${after.size}, local ${size}; ETag ${after.etag})`);
        }
      }
      return { file, key, url, size, sha256 };
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  private async verifies(key: string, h: ObjectHead, size: number, md5: Buffer, sha256: string): Promise<boolean> {
    if (h.size !== size) return false;
    if (h.etag && /^[0-9a-f]{32}$/.test(h.etag)) return h.etag === md5.toString('hex');
    // Not an MD5 ETag: the object itself is read back and hashed.
    const got = await this.bucket.get(key);
    if (!got) return false;
    return (await hashStream(got.stream)).sha256 === sha256;
  }
}

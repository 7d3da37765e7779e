// Temporary copies of recording.store objects for downloads (recording-download.ts).
// A file served from the bucket is hashed whole before its first byte goes (the
// sidecar's sha256 is checked, the audit log names it), and sent from the copy
// that was hashed. A player seeking in a recording sends one Range request per
// seek: each used to fetch the whole object again into a copy of its own (a
// 100 MB object per seek, and as many copies on disk as requests at once). Now
// a copy is shared by the downloads that run at once and kept `keepMs` after the
// last one ends, reused while the bucket gives the object the ETag the copy was
// fetched with (the HEAD that every download makes first): an object replaced in
// the bucket has another ETag, so it is fetched and checked again. The bytes sent
// are still bytes that were hashed whole. At most `maxBytes` are kept: past it the
// copies no download uses go, oldest first, and a copy that still does not fit is
// removed when its last download ends. An object without an ETag is never kept.
// All copies on disk at once (in use, being filled, kept) hold at most `limitBytes`
// (api.bucketCopiesMaxBytes): a download that needs a new copy past it, once the unused
// ones are gone, is refused (CopiesBusyError: the API answers 503 with Retry-After)
// rather than filling the disk; one alone on disk is always allowed, whatever its size.
// The copies are files in one folder of this BucketCopies (copies-folder.ts: named after
// the process, so the next start removes it if a kill left it), made at the first copy.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ownCopiesPrefix } from './copies-folder.ts';

export interface CopyFilled {
  sha256: string;
  /** The ETag of the object as fetched (the GET's), without quotes; null: the copy is not kept. */
  etag: string | null;
  size: number;
}

export interface BucketCopy {
  path: string;
  size: number;
  sha256: string;
  /** Idempotent: this download no longer reads the copy. */
  release(): void;
}

interface Entry {
  key: string;
  etag: string | null;
  /** The copy's file in the folder; '' until the folder is made. */
  path: string;
  filled: Promise<CopyFilled>;
  size: number;
  users: number;
  /** Dropped from the map (replaced, evicted, closed): removed once its last user ends. */
  detached: boolean;
  /** Its bytes no longer count as on disk (its removal is under way). */
  removed: boolean;
  lastUsed: number;
  timer: NodeJS.Timeout | null;
}

export interface BucketCopiesOptions {
  /** How long a copy no download uses is kept (default 60 s). */
  keepMs?: number;
  /** Bytes of copies kept at most (default 1 GiB, or limitBytes when lower). */
  maxBytes?: number;
  /** Bytes of copies on disk at once, in use or not (default: no limit). */
  limitBytes?: number;
}

/** A new copy would take the copies on disk past limitBytes while others are in use. */
export class CopiesBusyError extends Error {
  override name = 'CopiesBusyError';
  /** When to try again (s): downloads in progress end and release their copies. */
  readonly retryAfterSec = 5;
  constructor(need: number, onDisk: number, limit: number) {
    super(`copies of bucket objects in use hold ${onDisk} bytes; ${need} more would pass api.bucketCopiesMaxBytes (${limit})`);
  }
}

export class BucketCopies {
  private readonly entries = new Map<string, Entry>();
  /** The folder of every copy, made at the first one (null: none made yet); removed whole by close(). */
  private folder: Promise<string> | null = null;
  private folderPath: string | null = null;
  private seq = 0;
  private readonly keepMs: number;
  private readonly maxBytes: number;
  private readonly limitBytes: number;
  /** Bytes of the copies on disk or being filled (a fill counts the HEAD's size until it is done). */
  private onDisk = 0;
  private closed = false;

  constructor(o: BucketCopiesOptions = {}) {
    this.keepMs = o.keepMs ?? 60_000;
    this.limitBytes = o.limitBytes ?? Infinity;
    this.maxBytes = Math.min(o.maxBytes ?? 1024 ** 3, this.limitBytes);
  }

  /** Bytes of copies on disk now (tests, metrics). */
  get bytesOnDisk(): number {
    return this.onDisk;
  }

  /** Copies kept or being filled (tests, metrics). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The copy of `key` whose ETag is `etag` (the HEAD's), fetched by `fill` into the path
   * it is given when there is none (shared with a fill already running for that ETag).
   * `size`: the HEAD's; a new copy past limitBytes throws CopiesBusyError.
   */
  async acquire(key: string, etag: string | null, fill: (path: string) => Promise<CopyFilled>, size = 0): Promise<BucketCopy> {
    let e = this.entries.get(key);
    if (e && (etag === null || e.etag !== etag)) {
      this.detach(e);
      e = undefined;
    }
    if (!e) {
      this.makeRoom(size);
      e = this.fillNew(key, etag, fill, size);
      if (etag !== null && !this.closed) this.entries.set(key, e);
      else e.detached = true;
    }
    const entry = e;
    entry.users++;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    let filled: CopyFilled;
    try {
      filled = await entry.filled;
    } catch (err) {
      this.release(entry);
      throw err;
    }
    let released = false;
    return {
      path: entry.path,
      size: filled.size,
      sha256: filled.sha256,
      release: () => {
        if (released) return;
        released = true;
        this.release(entry);
      },
    };
  }

  /**
   * Synchronous, idempotent: every copy is removed now, those in use too (their downloads
   * read on from their open descriptors). Removed at once because the process may exit
   * right behind the API's close: a removal left to the background would leave the copy.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of [...this.entries.values()]) this.detach(e);
    if (this.folderPath !== null) rmSync(this.folderPath, { recursive: true, force: true });
  }

  /** This BucketCopies' folder, made once; one made after close() is removed at once. */
  private async madeFolder(): Promise<string> {
    this.folder ??= ownCopiesPrefix().then((prefix) => mkdtemp(prefix)).then((dir) => {
      this.folderPath = dir;
      if (this.closed) rmSync(dir, { recursive: true, force: true });
      return dir;
    });
    // A failure to make it is this fill's: the next one tries again.
    this.folder.catch(() => (this.folder = null));
    return this.folder;
  }

  /** Known by the HEAD's ETag while it fills (downloads at once share it), then by the GET's. */
  /** Unused copies go (least recently used first) until `need` more bytes fit; else CopiesBusyError, unless nothing is on disk. */
  private makeRoom(need: number): void {
    if (this.onDisk + need <= this.limitBytes) return;
    const idle = [...this.entries.values()].filter((e) => e.users === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of idle) {
      if (this.onDisk + need <= this.limitBytes) break;
      this.detach(e);
    }
    if (this.onDisk > 0 && this.onDisk + need > this.limitBytes) throw new CopiesBusyError(need, this.onDisk, this.limitBytes);
  }

  private fillNew(key: string, etag: string | null, fill: (path: string) => Promise<CopyFilled>, size: number): Entry {
    const e: Entry = { key, etag, path: '', filled: null as unknown as Promise<CopyFilled>, size, users: 0, detached: false, removed: false, lastUsed: Date.now(), timer: null };
    this.onDisk += size;
    e.filled = (async () => {
      const dir = await this.madeFolder();
      if (this.closed) throw new Error('the API is closing');
      e.path = join(dir, `copy-${++this.seq}`);
      const got = await fill(e.path);
      // Closed during the fill: close() removed the folder before this copy was whole.
      if (this.closed) {
        rmSync(e.path, { force: true });
        throw new Error('the API is closing');
      }
      // Keyed by what was fetched: an object replaced between the HEAD and the GET is
      // known by its new ETag, so the next HEAD finds this copy only if it still holds.
      e.etag = got.etag;
      if (!e.removed) this.onDisk += got.size - e.size;
      e.size = got.size;
      if (got.etag === null) this.detach(e);
      return got;
    })();
    // A failed fill is nobody's copy: the next download fetches again.
    e.filled.catch(() => this.detach(e));
    return e;
  }

  private release(e: Entry): void {
    e.users--;
    e.lastUsed = Date.now();
    if (e.users > 0) return;
    if (e.detached) {
      this.remove(e);
      return;
    }
    this.trim();
    if (e.detached) return;
    e.timer = setTimeout(() => this.detach(e), this.keepMs);
    e.timer.unref();
  }

  /** Past maxBytes: copies no download uses go, least recently used first. */
  private trim(): void {
    let total = 0;
    for (const e of this.entries.values()) total += e.size;
    if (total <= this.maxBytes) return;
    const idle = [...this.entries.values()].filter((e) => e.users === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of idle) {
      if (total <= this.maxBytes) break;
      total -= e.size;
      this.detach(e);
    }
  }

  private detach(e: Entry): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    e.detached = true;
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    if (e.users === 0) this.remove(e);
  }

  private remove(e: Entry): void {
    if (e.removed) return;
    e.removed = true;
    this.onDisk -= e.size;
    // After the fill settled (its folder is made in it); a failure to remove is left to the OS's tmp cleaning.
    void e.filled.then(
      () => undefined,
      () => undefined,
    ).then(async () => {
      if (e.path !== '') await rm(e.path, { force: true });
    }).catch(() => undefined);
  }
}

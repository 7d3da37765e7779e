// The recordings index: what GET /recordings searches, kept in memory sorted by
// start time, so that a query over 100,000 recordings is a scan of small objects
// rather than 100,000 file reads. Persisted as a journal of JSON lines
// (`{"p": entry}` put, `{"d": id}` delete, appended asynchronously) and
// reconciled with the folder at every start: sidecars the journal lacks are read,
// entries whose sidecar is gone are dropped. A journal that is missing or does not
// parse is rebuilt from the sidecars (the file itself: index-journal.ts). Recordings made by this process are put by
// the compliance service as they start and finalize; sidecars put into the folder
// by hand are noticed by a directory watch. Hold state is not kept here (legal-holds.ts).
import { constants, watch, type FSWatcher } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/logger.ts';
import { recordingIo } from '../io/recording-io.ts';
import type { RecordingMetadata } from '../metadata.ts';
import { entryOf, normalizeUri, type IndexEntry } from './index-entry.ts';
import { IndexJournal } from './index-journal.ts';

export interface RecordingQuery {
  /** Started at or after (ms). */
  since?: number;
  /** Started before (ms). */
  until?: number;
  flow?: string;
  rule?: string;
  originalTo?: string;
  participant?: string;
  /** SIPREC group id / session id (exact). */
  group?: string;
  session?: string;
  state?: string;
  /** Keep only entries for which this says true (hold state). */
  where?: (e: IndexEntry) => boolean;
  /** Look only at these recordings (e.g. the held ones: a few, rather than a scan of all). */
  among?: Iterable<string>;
  limit: number;
  cursor?: string;
}

export interface QueryPage {
  entries: IndexEntry[];
  /** Pass as `cursor` for the next page; null: no more. */
  next: string | null;
}

/** How long the watch's events for known sidecars are gathered before they are checked. */
const RECHECK_MS = 5000;
const ID_SIDECAR = /^([A-Za-z0-9_][A-Za-z0-9._-]{0,200})\.json$/;
/** Sidecars read at once while rebuilding. */
const READ_CONCURRENCY = 32;

function before(a: IndexEntry, start: number, id: string): boolean {
  return a.start < start || (a.start === start && a.id < id);
}

/** First position of ascending `list` whose entry is not before (start, id). */
function lowerBound(list: readonly IndexEntry[], start: number, id: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(list[mid]!, start, id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class RecordingIndex {
  private readonly byId = new Map<string, IndexEntry>();
  /** Ascending by (start, id). */
  private readonly sorted: IndexEntry[] = [];
  private readonly journalFile: IndexJournal;
  private watcher: FSWatcher | null = null;
  private readonly ingesting = new Set<Promise<void>>();
  /** Known ids the watch saw change: checked for a vanished sidecar together, at most every RECHECK_MS. */
  private readonly recheck = new Set<string>();
  private recheckTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Changes made while open() runs, applied after it (they are newer than what it reads). */
  private deferred: (() => void)[] | null = null;
  /** Resolves when open() is done (search waits for it; calls and recordings do not). */
  ready: Promise<void> = Promise.resolve();
  /** How the last open went (the bench reports it). */
  stats = { fromJournal: 0, readFromSidecars: 0, dropped: 0, rebuilt: false, journalMs: 0, readdirMs: 0, sidecarsMs: 0 };

  constructor(
    readonly dir: string,
    readonly journal: string,
    private readonly log: Logger,
  ) {
    this.journalFile = new IndexJournal(journal, log);
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): IndexEntry | undefined {
    return this.byId.get(id);
  }

  /** All entries, oldest first (do not change them). */
  get all(): readonly IndexEntry[] {
    return this.sorted;
  }

  /** Loads the journal, reconciles with the folder, starts watching it; `ready` resolves with it. */
  open(): Promise<void> {
    this.deferred = [];
    // Watching first: a sidecar put into the folder while the journal loads is not missed.
    this.watch();
    this.ready = this.load().finally(() => {
      const ops = this.deferred ?? [];
      this.deferred = null;
      for (const op of ops) op();
    });
    return this.ready;
  }

  private async load(): Promise<void> {
    let t = performance.now();
    const loaded = await this.loadJournal();
    this.stats.fromJournal = this.byId.size;
    this.stats.journalMs = Math.round(performance.now() - t);
    t = performance.now();
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.stats.readdirMs = Math.round(performance.now() - t);
    t = performance.now();
    const onDisk = new Set<string>();
    for (const n of names) {
      const m = ID_SIDECAR.exec(n);
      if (m) onDisk.add(m[1]!);
    }
    for (const id of [...this.byId.keys()]) {
      if (!onDisk.has(id)) {
        this.removeEntry(id);
        this.stats.dropped++;
      }
    }
    const missing = [...onDisk].filter((id) => !this.byId.has(id));
    for (let i = 0; i < missing.length; i += READ_CONCURRENCY) {
      await Promise.all(missing.slice(i, i + READ_CONCURRENCY).map((id) => this.ingest(id, false)));
    }
    this.stats.readFromSidecars = missing.length;
    this.stats.sidecarsMs = Math.round(performance.now() - t);
    if (!loaded || this.journalFile.lines > 2 * this.byId.size + 1000 || this.stats.dropped > 0 || missing.length > 0) await this.journalFile.compact(this.sorted);

  }

  /** The journal's entries into memory; false (rebuild from the sidecars) when it is missing or corrupt. */
  private async loadJournal(): Promise<boolean> {
    const entries = await this.journalFile.load();
    if (!entries) {
      this.stats.rebuilt = true;
      return false;
    }
    for (const e of entries.values()) {
      this.byId.set(e.id, e);
      this.sorted.push(e);
    }
    this.sorted.sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return true;
  }

  /** Adds or replaces an entry from a sidecar; false when it is not a recording's. */
  putMeta(id: string, meta: RecordingMetadata): boolean {
    const e = entryOf(id, meta);
    if (!e) return false;
    this.put(e);
    return true;
  }

  put(e: IndexEntry): void {
    if (this.closed) return;
    if (this.deferred) return void this.deferred.push(() => this.put(e));
    this.removeSorted(e.id);
    this.byId.set(e.id, e);
    this.insertSorted(e);
    this.journalFile.put(e);
  }

  remove(id: string): void {
    if (this.deferred) return void this.deferred.push(() => this.remove(id));
    if (this.closed || !this.byId.has(id)) return;
    this.removeEntry(id);
    this.journalFile.delete(id);
  }

  private removeEntry(id: string): void {
    this.removeSorted(id);
    this.byId.delete(id);
  }

  private insertSorted(e: IndexEntry): void {
    const a = this.sorted;
    // New recordings are the newest: usually appended at the end.
    let lo = 0;
    let hi = a.length;
    if (hi > 0 && before(a[hi - 1]!, e.start, e.id)) lo = hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(a[mid]!, e.start, e.id)) lo = mid + 1;
      else hi = mid;
    }
    a.splice(lo, 0, e);
  }

  private removeSorted(id: string): void {
    const old = this.byId.get(id);
    if (!old) return;
    const i = this.lowerBound(old.start, old.id);
    if (this.sorted[i]?.id === id) this.sorted.splice(i, 1);
    else {
      const j = this.sorted.indexOf(old);
      if (j >= 0) this.sorted.splice(j, 1);
    }
  }

  private lowerBound(start: number, id: string): number {
    return lowerBound(this.sorted, start, id);
  }

  /** Newest first; filters are exact matches (URIs normalized: case, brackets and parameters aside). */
  query(q: RecordingQuery): QueryPage {
    const to = q.originalTo ? normalizeUri(q.originalTo) : null;
    const part = q.participant ? normalizeUri(q.participant) : null;
    let list: readonly IndexEntry[] = this.sorted;
    if (q.among) {
      const picked: IndexEntry[] = [];
      for (const id of q.among) {
        const e = this.byId.get(id);
        if (e) picked.push(e);
      }
      list = picked.sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    let end = list.length;
    if (q.until !== undefined) end = Math.min(end, lowerBound(list, q.until, ''));
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      if (c) end = Math.min(end, lowerBound(list, c.start, c.id));
    }
    const out: IndexEntry[] = [];
    for (let i = end - 1; i >= 0; i--) {
      const e = list[i]!;
      if (q.since !== undefined && e.start < q.since) break;
      if (q.flow !== undefined && e.flow !== q.flow) continue;
      if (q.rule !== undefined && e.rule !== q.rule) continue;
      if (q.state !== undefined && e.state !== q.state) continue;
      if (to !== null && !e.to.includes(to)) continue;
      if (part !== null && !e.parts.includes(part)) continue;
      if (q.group !== undefined && e.group !== q.group) continue;
      if (q.session !== undefined && e.session !== q.session) continue;
      if (q.where && !q.where(e)) continue;
      if (out.length === q.limit) return { entries: out, next: encodeCursor(out[out.length - 1]!) };
      out.push(e);
    }
    return { entries: out, next: null };
  }

  /** Resolves once the index is loaded and the sidecars noticed by the watch so far are in it. */
  async settled(): Promise<void> {
    await this.ready.catch(() => undefined);
    while (this.ingesting.size > 0) await Promise.all([...this.ingesting]);
  }

  private watch(): void {
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        const m = name ? ID_SIDECAR.exec(String(name)) : null;
        if (!m || this.closed) return;
        const id = m[1]!;
        // Recordings of this process are put by the compliance service; only unknown or vanished ones are read.
        // A known one (every sidecar rewrite of a recording in progress is an event) is only
        // checked for having vanished, batched: not one open per rewrite.
        if (this.byId.has(id)) return this.scheduleRecheck(id);
        this.track(this.ingest(id, true));
      });
      this.watcher.on('error', (err) => this.log.warn({ err, dir: this.dir }, 'recordings folder watch failed; sidecars added by hand appear at the next start'));
    } catch (err) {
      this.log.warn({ err, dir: this.dir }, 'cannot watch the recordings folder; sidecars added by hand appear at the next start');
    }
  }

  private track(p: Promise<void>): void {
    const tracked = p.finally(() => this.ingesting.delete(tracked));
    this.ingesting.add(tracked);
  }

  private scheduleRecheck(id: string): void {
    this.recheck.add(id);
    if (this.recheckTimer) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = null;
      const ids = [...this.recheck];
      this.recheck.clear();
      if (this.closed) return;
      this.track(this.recheckKnown(ids));
    }, RECHECK_MS);
    this.recheckTimer.unref();
  }

  /**
   * Known recordings whose sidecars the watch saw change: one whose sidecar is gone leaves the index.
   * The sizes of them all in one call to the recording I/O thread (0: missing; a sidecar is never
   * empty, it is replaced whole), not an open and a close each on libuv's pool from the main thread.
   */
  private async recheckKnown(ids: string[]): Promise<void> {
    let sizes: number[];
    try {
      sizes = await recordingIo().sizes(ids.map((id) => join(this.dir, `${id}.json`)));
    } catch (err) {
      return this.log.warn({ err, dir: this.dir }, 'recordings index: could not check sidecars for removal');
    }
    ids.forEach((id, i) => {
      if (sizes[i] === 0 && this.byId.has(id) && !this.closed) this.remove(id);
    });
  }

  /** Reads `<id>.json` (never through a link) into the index; a vanished one leaves it. */
  private async ingest(id: string, fromWatch: boolean): Promise<void> {
    const known = this.byId.has(id);
    let text: string;
    try {
      const fh = await open(join(this.dir, `${id}.json`), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try {
        if (fromWatch && known) return;
        const st = await fh.stat();
        if (!st.isFile()) return;
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && known) this.remove(id);
      return;
    }
    try {
      this.putMeta(id, JSON.parse(text) as RecordingMetadata);
    } catch {
      // Being rewritten, or not a sidecar: the next write (or start) brings it.
    }
  }

  /** Synchronous and idempotent: stops the watch; queued journal lines are still appended. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    this.recheckTimer = null;
    this.recheck.clear();
  }

  /** Resolves once the journal holds every change made so far. */
  flushed(): Promise<void> {
    return this.journalFile.flushed();
  }
}

function encodeCursor(e: IndexEntry): string {
  return Buffer.from(`${e.start}|${e.id}`).toString('base64url');
}

function decodeCursor(c: string): { start: number; id: string } | null {
  const s = Buffer.from(c, 'base64url').toString('utf8');
  const bar = s.indexOf('|');
  const start = Number(s.slice(0, bar));
  return bar > 0 && Number.isFinite(start) ? { start, id: s.slice(bar + 1) } : null;
}

export { decodeCursor };

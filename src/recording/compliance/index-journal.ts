// The recordings index's journal: JSON lines (`{"v":1}` header, `{"p": entry}`
// put, `{"d": id}` delete) appended asynchronously in order, read back at start,
// and rewritten as one put per entry (temp file + rename) when it has grown or
// the folder disagreed with it. A journal that is missing or does not parse
// reads as nothing: the index rebuilds it from the sidecars. Appends run in the
// recording I/O thread (one batched call each, not open, write and close on libuv's pool).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../util/logger.ts';
import { recordingIo } from '../io/recording-io.ts';
import type { IndexEntry } from './index-entry.ts';

export class IndexJournal {
  private queue: string[] = [];
  private running: Promise<void> | null = null;
  /** Lines in the file, or queued for it (the index compacts when they are many more than its entries). */
  lines = 0;

  constructor(
    readonly file: string,
    private readonly log: Logger,
  ) {}

  /** The entries the journal holds (puts and deletes applied), or null when it is missing or corrupt. */
  async load(): Promise<Map<string, IndexEntry> | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, file: this.file }, 'recordings index unreadable: rebuilt from the sidecars');
      return null;
    }
    const lines = text.split('\n');
    const entries = new Map<string, IndexEntry>();
    let n = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '') continue;
      n++;
      let op: { v?: number; p?: IndexEntry; d?: string };
      try {
        op = JSON.parse(line) as typeof op;
      } catch {
        // A torn last line (a crash while appending) loses one change the reconcile repairs; anything else is corruption.
        if (i >= lines.length - 2) continue;
        this.log.warn({ file: this.file, line: i + 1 }, 'recordings index corrupt: rebuilt from the sidecars');
        return null;
      }
      if (op.p && typeof op.p.id === 'string') entries.set(op.p.id, op.p);
      else if (typeof op.d === 'string') entries.delete(op.d);
    }
    this.lines = n;
    return entries;
  }

  /** Rewrites the journal as one put per entry (temp file + rename), after what is queued. */
  async compact(entries: readonly IndexEntry[]): Promise<void> {
    await this.running;
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const parts = ['{"v":1}\n'];
    for (const e of entries) parts.push(`{"p":${JSON.stringify(e)}}\n`);
    await writeFile(tmp, parts.join(''));
    await rename(tmp, this.file);
    this.lines = entries.length + 1;
  }

  put(e: IndexEntry): void {
    this.append(`{"p":${JSON.stringify(e)}}\n`);
  }

  delete(id: string): void {
    this.append(`{"d":${JSON.stringify(id)}}\n`);
  }

  /** Resolves once the file holds every line appended so far. */
  async flushed(): Promise<void> {
    while (this.running) await this.running;
  }

  private append(line: string): void {
    this.queue.push(line);
    this.lines++;
    this.write();
  }

  private write(): void {
    if (this.running) return;
    this.running = (async () => {
      try {
        while (this.queue.length > 0) {
          const text = this.queue.splice(0).join('');
          // The folder is made if it is missing (or has gone).
          await recordingIo().append(this.file, text);
        }
      } catch (err) {
        // The next start reconciles with the folder; the index in memory is right.
        this.log.warn({ err, file: this.file }, 'recordings index journal write failed');
        this.queue = [];
      }
    })().finally(() => {
      this.running = null;
      if (this.queue.length > 0) this.write();
    });
  }
}

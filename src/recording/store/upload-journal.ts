// The uploads not yet verified in the bucket, kept in a small JSON file (written
// atomically and asynchronously by SidecarWriter) so that those pending at a
// crash or a stop resume at the next start. An entry is added before the first
// byte is sent and removed only after every file of the recording verified.
import { readFile, rename } from 'node:fs/promises';
import type { Logger } from '../../util/logger.ts';
import { SidecarWriter } from '../sidecar-writer.ts';

export interface PendingUpload {
  id: string;
  /** File names inside recording.dir, sidecar included. */
  files: string[];
  addedAt: string;
  attempts: number;
  lastError: string | null;
}

interface JournalFile {
  version: 1;
  pending: PendingUpload[];
}

export class UploadJournal {
  private readonly entries = new Map<string, PendingUpload>();
  private readonly writer: SidecarWriter;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    this.writer = new SidecarWriter(path, {
      error: (err) => this.log.error({ err, file: path }, 'the upload journal cannot be written (pending uploads may not resume after a crash)'),
      resumed: () => this.log.info({ file: path }, 'the upload journal is written again'),
    });
  }

  /** Reads the journal a previous process left (none: empty). A file that does not parse is kept aside, not lost. */
  async load(): Promise<PendingUpload[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const j = JSON.parse(text) as JournalFile;
      if (j.version !== 1 || !Array.isArray(j.pending)) throw new Error('not a version 1 upload journal');
      for (const e of j.pending) if (typeof e.id === 'string' && Array.isArray(e.files)) this.entries.set(e.id, e);
    } catch (err) {
      const aside = `${this.path}.corrupt-${Date.now()}`;
      await rename(this.path, aside).catch(() => undefined);
      this.log.error({ err, file: this.path, keptAs: aside }, 'the upload journal does not parse: kept aside, its uploads will not resume by themselves');
    }
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): PendingUpload | undefined {
    return this.entries.get(id);
  }

  get all(): PendingUpload[] {
    return [...this.entries.values()];
  }

  /** Adds (or replaces) an entry; resolves when it is on disk (false: the write failed, reported). */
  async put(e: PendingUpload): Promise<boolean> {
    this.entries.set(e.id, e);
    return this.save();
  }

  async remove(id: string): Promise<boolean> {
    if (!this.entries.delete(id)) return true;
    return this.save();
  }

  private save(): Promise<boolean> {
    const j: JournalFile = { version: 1, pending: [...this.entries.values()] };
    return this.writer.write(j);
  }
}

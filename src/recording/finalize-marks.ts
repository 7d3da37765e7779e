// Marks of recordings between their final sidecar and the end of what follows it
// (the finalize steps: signing, the upload journal; then recording.saved reaching
// the webhook spool). A kill in that window left a 'finalized' sidecar that the
// next start skipped: never signed, never uploaded, never reported. A mark is an
// empty file `<recording.dir>/.finalizing/<id>`, on disk before the final sidecar
// is written and gone once the event is on disk; the next start finishes what it names.
//
// A mark is not created and removed per recording: an ended mark is renamed to a
// spare (`.spare-…`, a hidden name that names no recording) and the next begin()
// renames a spare to its id. A rename allocates and frees no inode; a create and a
// remove per recording did both (ext4 without a journal skips every inode freed in
// the last half minute one by one when it allocates one, which slowed every create in
// the recordings folder), and cost four calls to libuv's pool instead of one. The
// folder stays while Parley runs (it holds the spares); close() removes the spares and
// the folder when no mark is left, so the recordings folder is flat again. Spares a
// kill left are taken up by the next start.
import { mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Spares kept at most (more ended marks than this at once are removed). */
const MAX_SPARES = 256;
const SPARE = '.spare-';

export class FinalizeMarks {
  private readonly dir: string;
  private readonly spares: string[] = [];
  /** Spare names are `.spare-<epoch>-<n>`: unique among this run's and a previous run's. */
  private readonly epoch = Date.now().toString(36);
  private nextSpare = 0;
  /** The folder's leftover spares were looked for (once, at the first begin() or list()). */
  private adopted: Promise<void> | null = null;
  private closed = false;

  constructor(recordingDir: string) {
    this.dir = join(recordingDir, '.finalizing');
  }

  /** Resolves once the mark is on disk. */
  async begin(id: string): Promise<void> {
    await this.adoptLeftovers();
    const spare = this.spares.pop();
    if (spare !== undefined) {
      try {
        await rename(join(this.dir, spare), join(this.dir, id));
        return;
      } catch {
        // The spare is gone (removed by hand, or close() ran): a new mark below.
      }
    }
    for (let attempt = 1; ; attempt++) {
      await mkdir(this.dir, { recursive: true });
      try {
        await writeFile(join(this.dir, id), '');
        return;
      } catch (err) {
        // The folder was removed in between by close().
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw err;
      }
    }
  }

  async end(id: string): Promise<void> {
    const mark = join(this.dir, id);
    if (!this.closed && this.spares.length < MAX_SPARES) {
      const spare = `${SPARE}${this.epoch}-${this.nextSpare++}`;
      try {
        await rename(mark, join(this.dir, spare));
        if (this.closed) await rm(join(this.dir, spare), { force: true });
        else this.spares.push(spare);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // no such mark
      }
    }
    await rm(mark, { force: true });
    if (this.closed) await rmdir(this.dir).catch(() => undefined); // ENOTEMPTY: other marks still there
  }

  /** The recordings marked (none when the folder does not exist). */
  async list(): Promise<string[]> {
    await this.adoptLeftovers();
    return (await this.names()).filter((n) => !n.startsWith('.'));
  }

  /** Removes the spares, and the folder once no mark is left in it. Idempotent; never rejects. */
  async close(): Promise<void> {
    this.closed = true;
    await this.adopted?.catch(() => undefined);
    const spares = this.spares.splice(0);
    await Promise.all(spares.map((s) => rm(join(this.dir, s), { force: true }).catch(() => undefined)));
    await rmdir(this.dir).catch(() => undefined); // ENOTEMPTY: marks the next start finishes
  }

  private adoptLeftovers(): Promise<void> {
    this.adopted ??= this.names().then((names) => {
      for (const n of names) if (n.startsWith(SPARE)) this.spares.push(n);
    });
    return this.adopted;
  }

  private async names(): Promise<string[]> {
    return readdir(this.dir).catch(() => []);
  }
}

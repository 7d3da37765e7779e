// Marks of recordings between their final sidecar and the end of what follows it
// (the finalize steps: signing, the upload journal; then recording.saved reaching
// the webhook spool). A kill in that window left a 'finalized' sidecar that the
// next start skipped: never signed, never uploaded, never reported. A mark is an
// empty file `<recording.dir>/.finalizing/<id>`, written before the final sidecar
// and removed once the event is on disk; the next start finishes what it names.
// The folder is removed whenever it is empty: the recordings folder stays flat.
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export class FinalizeMarks {
  private readonly dir: string;

  constructor(recordingDir: string) {
    this.dir = join(recordingDir, '.finalizing');
  }

  /** Resolves once the mark is on disk. */
  async begin(id: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await mkdir(this.dir, { recursive: true });
      try {
        await writeFile(join(this.dir, id), '');
        return;
      } catch (err) {
        // The folder was removed in between by the end() of another recording.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw err;
      }
    }
  }

  async end(id: string): Promise<void> {
    await rm(join(this.dir, id), { force: true });
    await rmdir(this.dir).catch(() => undefined); // ENOTEMPTY: other marks still there
  }

  /** The recordings marked (none when the folder does not exist). */
  async list(): Promise<string[]> {
    return readdir(this.dir).catch(() => []);
  }
}

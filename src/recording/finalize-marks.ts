// Marks of recordings between their final sidecar and the end of what follows it
// (the finalize steps: signing, the upload journal; then recording.saved reaching
// the webhook spool). A kill in that window left a 'finalized' sidecar that the
// next start skipped: never signed, never uploaded, never reported. A mark is an
// empty file `<recording.dir>/.finalizing/<id>`, written before the final sidecar
// and removed once the event is on disk; the next start finishes what it names.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { safeName } from './file-names.ts';

export class FinalizeMarks {
  private readonly dir: string;
  private made = false;

  constructor(recordingDir: string) {
    this.dir = join(recordingDir, '.finalizing');
  }

  /** Resolves once the mark is on disk. */
  async begin(id: string): Promise<void> {
    if (!this.made) {
      await mkdir(this.dir, { recursive: true });
      this.made = true;
    }
    await writeFile(join(this.dir, safeName(id, 200)), '');
  }

  async end(id: string): Promise<void> {
    await rm(join(this.dir, safeName(id, 200)), { force: true });
  }

  /** The recordings marked (none when the folder does not exist). */
  async list(): Promise<string[]> {
    return readdir(this.dir).catch(() => []);
  }
}

// Writes a recording's JSON sidecar atomically (temp file + rename), so that after
// a kill -9 the sidecar on disk is always the last complete version.
// - writeSync: for state changes (join, leave, pause, mask, notice, close), rare.
// - writeAsync: for the once-a-second refresh, so that many rooms do not stall the
//   event loop together. Its temp file is written asynchronously; the rename is
//   synchronous and skipped when a newer version was written meanwhile, so an old
//   version never overwrites a newer one.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

export class SidecarWriter {
  private version = 0;
  private inFlight = 0;

  constructor(
    readonly path: string,
    private readonly onError: (err: Error) => void,
  ) {}

  /** An async write is under way. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  writeSync(value: unknown): void {
    this.version++;
    const tmp = `${this.path}.tmp`;
    try {
      writeFileSync(tmp, serialize(value));
      renameSync(tmp, this.path);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  writeAsync(value: unknown): void {
    const version = ++this.version;
    const tmp = `${this.path}.${version}.tmp`;
    this.inFlight++;
    writeFile(tmp, serialize(value)).then(
      () => {
        this.inFlight--;
        try {
          if (this.version === version) renameSync(tmp, this.path);
          else unlinkSync(tmp);
        } catch (err) {
          this.onError(err as Error);
        }
      },
      (err: unknown) => {
        this.inFlight--;
        this.onError(err as Error);
      },
    );
  }
}

function serialize(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

// Small files of a recording written beside its audio (SIPREC metadata versions),
// named by the caller inside the recordings folder and never overwritten. The
// Recorder waits for them (settled()) before finalization, which hashes them into
// the sidecar before it is signed. A write that fails is logged, never thrown, and what it left removed.
import { rm, writeFile } from 'node:fs/promises';
import type { Logger } from '../util/logger.ts';

export class CompanionFiles {
  private readonly writes: Promise<void>[] = [];

  constructor(
    private readonly pathOf: (name: string) => string,
    private readonly log: Logger,
  ) {}

  write(name: string, text: string): void {
    const path = this.pathOf(name);
    const p = writeFile(path, text, { flag: 'wx' }).catch(async (err: unknown) => {
      this.log.error({ err, file: name }, 'a file of the recording was not written');
      // A full disk leaves the file created but empty or cut short: removed, so that it is not hashed
      // and signed as the version received (its sha256 is then null: not written). Never another's (EEXIST).
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await rm(path, { force: true }).catch(() => undefined);
    });
    this.writes.push(p);
  }

  /** Resolves once every write started so far has ended (written or logged). */
  async settled(): Promise<void> {
    await Promise.all(this.writes);
  }
}

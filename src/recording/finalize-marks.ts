// Marks of recordings between their final sidecar and the end of what follows it
// (the finalize steps: signing, the upload journal; then recording.saved reaching
// the webhook spool). A kill in that window left a 'finalized' sidecar that the
// next start skipped: never signed, never uploaded, never reported. The marks are
// lines of one log, `<recording.dir>/.parley/finalizing.log`: `+<id>` appended before
// the final sidecar is written, `-<id>` once the event is on disk; the next start
// finishes every id whose last line is a `+`.
// - The lines go through the recording I/O thread (io/recording-io.ts), those asked
//   for meanwhile in one append: no call of the main thread into libuv's pool, and no
//   file made or removed per recording. (Marks were empty files in `.finalizing/`, the
//   folder removed whenever empty: a file and often a folder created and freed per
//   recording, and on ext4 without a journal every freed inode makes the next creates
//   in the file system slower for a while: bench:bridge's recording I/O thread.)
// - begin() resolves once its line is written (appended: in the page cache, as the
//   empty file was); a kill loses nothing written.
// - Once the log holds COMPACT_LINES lines it is rewritten (atomically) to the marks
//   still open, between two appends. Its lines are counted as written, not read back:
//   what an earlier process left (fewer than that, as it rewrote it too) is counted from
//   the first rewrite on.
// - Marks an older Parley left as files in `.finalizing/` are listed too; end() removes
//   such a file, and the folder once it is empty.
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { recordingIo } from './io/recording-io.ts';

/** The log is rewritten to its open marks once it holds this many lines. */
export const COMPACT_LINES = 2000;

export class FinalizeMarks {
  readonly path: string;
  private readonly legacyDir: string;
  /** Ids listed from `.finalizing/` (an older Parley's marks), removed there at their end(). */
  private readonly legacy = new Set<string>();
  /** Lines not written yet (one per waiter), and who waits for them. */
  private queued = '';
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private running: Promise<void> | null = null;
  /** Lines in the log: those of its last rewrite and those appended since (see above). */
  private lines = 0;

  constructor(recordingDir: string) {
    this.path = join(recordingDir, '.parley', 'finalizing.log');
    this.legacyDir = join(recordingDir, '.finalizing');
  }

  /** Resolves once the mark is written. */
  begin(id: string): Promise<void> {
    return this.put(`+${id}\n`);
  }

  async end(id: string): Promise<void> {
    await this.put(`-${id}\n`);
    if (this.legacy.delete(id)) {
      await rm(join(this.legacyDir, id), { force: true });
      await rmdir(this.legacyDir).catch(() => undefined); // ENOTEMPTY: other marks still there
    }
  }

  /** The recordings marked: begun and not ended, in the log or in an older Parley's `.finalizing/`. */
  async list(): Promise<string[]> {
    await this.idle();
    const open = openMarks(await this.read());
    for (const id of await readdir(this.legacyDir).catch(() => [] as string[])) {
      this.legacy.add(id);
      open.add(id);
    }
    return [...open];
  }

  private put(line: string): Promise<void> {
    this.queued += line;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.running ??= this.loop();
    return done;
  }

  private async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      while (this.queued !== '') {
        const text = this.queued;
        const waiters = this.waiters.splice(0);
        this.queued = '';
        try {
          if (this.lines + waiters.length >= COMPACT_LINES) {
            // Rewritten to what is open once these lines are in (read back: the log is the truth).
            const open = openMarks((await this.read()) + text);
            const body = [...open].map((id) => `+${id}\n`).join('');
            await recordingIo().writeAtomic(this.path, body);
            this.lines = open.size;
          } else {
            await recordingIo().append(this.path, text);
            this.lines += waiters.length;
          }
          for (const w of waiters) w.resolve();
        } catch (err) {
          for (const w of waiters) w.reject(err as Error);
        }
      }
    } finally {
      this.running = null;
    }
  }

  private read(): Promise<string> {
    return readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
  }
}

/** The ids whose last line in `log` is a `+` (each line is one short write: a kill leaves it whole or absent). */
export function openMarks(log: string): Set<string> {
  const open = new Set<string>();
  for (const line of log.split('\n')) {
    if (line.length < 2) continue;
    const id = line.slice(1);
    if (line[0] === '+') open.add(id);
    else if (line[0] === '-') open.delete(id);
  }
  return open;
}

// Writes a recording's JSON sidecar atomically (temp file + rename, both
// asynchronous), so that after a kill -9 the sidecar on disk is always the last
// complete version, and no write blocks the event loop.
// - One write in flight at a time; writes asked for meanwhile collapse into one
//   with the newest value (serialized when asked for, so later changes to the
//   object do not leak into it). An older version never overwrites a newer one.
// - A failed write (a full disk) has its temp file removed, so no `.json.tmp` is
//   left behind; the previous sidecar stays in place. Failures are reported once
//   per outage (`error`), and the first write that succeeds after one says so
//   (`resumed`); the next write is the retry.
// - The temp file's write and the rename (and the folder, when missing) are one
//   call to the recording I/O thread (io/recording-io.ts), which also removes the
//   temp file when they fail.
// - A last version that could not be written may be retried on a timer
//   (retryWhileFailing): a bounded number of times, unref'd.
// - While the recording records (`state: 'recording'`, rewrites: sidecar-schedule.ts) the
//   temp file is kept from one write to the next (writeAtomic's keepTemp): the
//   inode replaced becomes the next temp file, so a rewrite allocates and frees no
//   inode (freed inodes made every create in the folder slower). The first write
//   in another state (closed, finalized) takes `<id>.json.tmp` along.
import { recordingIo } from './io/recording-io.ts';

/** A last version that cannot be written is retried this often, this many times (5 min). */
const RETRY_MS = 5000;
const RETRIES = 60;

export class SidecarWriter {
  private running: Promise<void> | null = null;
  private queued: string | null = null;
  /** The queued version's temp file is kept for the next one (it is still recording). */
  private queuedKeepsTemp = false;
  private waiters: ((ok: boolean) => void)[] = [];
  private lastFailed = false;
  /** While the last version cannot be written (a full disk): its next attempt. */
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly path: string,
    private readonly hooks: { error: (err: Error) => void; resumed?: () => void },
  ) {}

  /** The last write failed (the sidecar on disk is an older version). */
  get failing(): boolean {
    return this.lastFailed;
  }

  /** A write is under way. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves when this value (or a newer one) is on disk (true), or its write failed (false, reported). Never rejects. */
  write(value: unknown): Promise<boolean> {
    this.queued = JSON.stringify(value, null, 2) + '\n';
    this.queuedKeepsTemp = (value as { state?: unknown } | null)?.state === 'recording';
    const done = new Promise<boolean>((r) => this.waiters.push(r));
    if (!this.running) {
      this.running = this.loop().catch((err: unknown) => this.hooks.error(err as Error));
    }
    return done;
  }

  /**
   * The last write failed and no newer version will come (the recording is
   * finalized): `save` (which writes the newest version) runs again every few
   * seconds while it fails, for a while (unref'd: it never holds the process); what
   * is still unwritten then is repaired at the next start. Should `save` reject,
   * `failed` is told and the retries stop. `written` runs once a retry got it on disk.
   */
  retryWhileFailing(save: () => Promise<unknown>, failed: (err: Error) => void, written?: () => Promise<void>, left = RETRIES): void {
    if (!this.lastFailed || left <= 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      save().then(
        // On disk at last: `written` (what had to wait for it) runs once.
        () => (this.lastFailed ? this.retryWhileFailing(save, failed, written, left - 1) : void written?.()),
        (err: unknown) => failed(err as Error),
      );
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private async loop(): Promise<void> {
    try {
      while (this.queued !== null) {
        const text = this.queued;
        const keepTemp = this.queuedKeepsTemp;
        const waiters = this.waiters.splice(0);
        this.queued = null;
        const ok = await this.writeOnce(text, keepTemp);
        for (const w of waiters) w(ok);
      }
    } finally {
      this.running = null;
    }
  }

  private async writeOnce(text: string, keepTemp: boolean): Promise<boolean> {
    try {
      await recordingIo().writeAtomic(this.path, text, undefined, keepTemp);
      if (this.lastFailed) {
        this.lastFailed = false;
        this.hooks.resumed?.();
      }
      return true;
    } catch (err) {
      if (!this.lastFailed) this.hooks.error(err as Error);
      this.lastFailed = true;
      return false;
    }
  }
}

// Watches the folders that decoded prompts were read from (inotify through fs.watch),
// so that PromptLibrary can play a prompt it already decoded without a stat per play
// (one stat on libuv's pool per play was measured at ~0.3 ms of main-thread CPU per call
// of the record-notice gateway). Any event in a watched folder (a file written,
// replaced, renamed, removed, a symlink repointed) moves `generation` on: every clip
// checked under an older generation is checked again (a stat) at its next play.
// A folder that cannot be watched (no inotify watches left, a network file system that
// reports nothing) is not trusted: its clips are checked at every play, as before.
// Watchers are unref'd (persistent: false): they never hold the process.
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../util/logger.ts';

/** Folders watched at most (each is one inotify watch); past it, clips are checked at every play. */
const MAX_WATCHED = 64;

export class PromptDirWatch {
  /** Moves on with every event in any watched folder, and when a watcher fails. */
  generation = 0;
  private readonly watchers = new Map<string, FSWatcher>();
  /** Folders whose watch failed: not tried again (their clips are stat'ed at every play). */
  private readonly unwatchable = new Set<string>();
  private closed = false;

  constructor(private readonly log: Logger) {}

  /**
   * Watches each of `dirs` (if not yet); true when all of them are watched now, so
   * that a clip read from them may be trusted while `generation` stays the same.
   * Call it before taking the generation a check is made under.
   */
  watchAll(dirs: readonly string[]): boolean {
    let all = true;
    for (const d of dirs) if (!this.watchOne(d)) all = false;
    return all;
  }

  private watchOne(dir: string): boolean {
    if (this.closed || this.unwatchable.has(dir)) return false;
    if (this.watchers.has(dir)) return true;
    if (this.watchers.size >= MAX_WATCHED) return false;
    let w: FSWatcher;
    try {
      // One inotify_add_watch per folder, once: not on the play path after the first.
      w = watch(dir, { persistent: false }, this.bump);
    } catch (err) {
      this.unwatchable.add(dir);
      this.log.warn({ err, dir }, 'prompt folder cannot be watched: its prompts are checked on disk at every play');
      return false;
    }
    w.on('error', (err) => {
      // The folder went away or the watch broke: its clips are checked again, and on every play from now.
      this.watchers.delete(dir);
      this.unwatchable.add(dir);
      w.close();
      this.generation++;
      this.log.warn({ err, dir }, 'prompt folder watch failed: its prompts are checked on disk at every play');
    });
    this.watchers.set(dir, w);
    return true;
  }

  private readonly bump = (): void => {
    this.generation++;
  };

  /** Folders watched now (tests). */
  get watching(): number {
    return this.watchers.size;
  }

  /** Closes every watcher. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.generation++;
  }
}

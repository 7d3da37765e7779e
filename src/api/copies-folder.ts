// The temp folder that holds one BucketCopies' copies, named after the process that owns
// it: `parley-exports-<pid>-<start>-XXXXXX` in the OS temp folder, `<start>` being when
// that process started (field 22 of /proc/<pid>/stat, clock ticks since boot). A Parley
// killed with SIGKILL cannot remove its copies (whole recordings, decrypted or not); the
// next start finds them by that name and removes the folders whose process is gone, and
// only those: the pid with the same start time is the same process, so the copies of
// another Parley running on the machine (or of this one) are never touched, and a pid
// reused by another program (its start time differs) does not keep dead copies.
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../util/logger.ts';
import { processAlive } from '../util/process-alive.ts';

const PREFIX = 'parley-exports-';
const NAME = /^parley-exports-(\d+)-(\d+)-[A-Za-z0-9]+$/;

/** When `pid` started (clock ticks since boot); null when /proc does not say (no such process, or no /proc). */
async function startOf(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

let ownStart: Promise<string> | null = null;

/** The prefix of this process's copy folders (mkdtemp adds six characters). */
export async function ownCopiesPrefix(): Promise<string> {
  ownStart ??= startOf(process.pid).then((s) => s ?? '0');
  return join(tmpdir(), `${PREFIX}${process.pid}-${await ownStart}-`);
}

/** Whether the process that named a folder (pid, start) still runs. */
async function ownerRuns(pid: number, start: string): Promise<boolean> {
  if (pid === process.pid) return true;
  const now = await startOf(pid);
  if (now !== null) return now === start;
  // No /proc/<pid>/stat: gone, where /proc exists; elsewhere only the pid can tell.
  if ((await startOf(process.pid)) !== null) return false;
  return processAlive(pid);
}

/** Removes the copy folders of processes that are gone (at the API's start); resolves with their names. */
export async function removeAbandonedCopies(log: Logger, dir = tmpdir()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = NAME.exec(n);
    if (!m || (await ownerRuns(Number(m[1]), m[2]!))) continue;
    try {
      await rm(join(dir, n), { recursive: true, force: true });
      removed.push(n);
    } catch (err) {
      log.warn({ err, folder: join(dir, n) }, 'the bucket-object copies of a stopped Parley could not be removed');
    }
  }
  if (removed.length > 0) log.info({ folders: removed, dir }, 'bucket-object copies a stopped Parley left in the temp folder removed');
  return removed;
}

// One Parley per recordings folder. Two processes on one `recording.dir` (a second
// Parley started with a copy of parley.yaml whose ports were changed) would each
// take the other's recordings in progress for interrupted ones and "repair" them,
// and each append to the audit log at its own position, overwriting the other's
// entries. So the folder holds `.parley/parley.pid` (the holder's pid) while a
// Parley runs in it; a second one refuses to start. A lock whose process is gone
// (kill -9, a crash), or whose pid another program holds now (after a reboot), is taken over.
import { access, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { processAlive } from '../util/process-alive.ts';

export class RecordingDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`recording.dir: ${dir} is in use by another Parley (pid ${pid})`);
    this.name = 'RecordingDirInUseError';
  }
}

export interface RecordingDirLock {
  readonly file: string;
  /** Removes the lock file (it is left behind only when the process dies). Idempotent. */
  release(): Promise<void>;
}


/**
 * Whether the live process `pid` can be a Parley: on Linux, one whose command line names
 * node (Parley runs on it). A lock left by a Parley killed before a reboot names a pid that
 * some other program may hold now; that must not keep Parley (and the repair of its
 * recordings) from starting. Where /proc cannot tell, the process counts as a Parley.
 */
async function maybeParley(pid: number): Promise<boolean> {
  let cmdline: string;
  try {
    cmdline = await readFile(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    // No /proc (not Linux): it cannot tell. With /proc, the process has just gone.
    return !(await access('/proc/self/cmdline').then(() => true, () => false));
  }
  return /(^|\/|\0)node(js)?(\d+)?(\0|$)/.test(cmdline) || cmdline.includes('parley');
}

/** Whether this process holds the lock of the folder whose state folder is `stateDir` (its `parley.pid` names it). */
export async function holdsRecordingDir(stateDir: string): Promise<boolean> {
  return Number.parseInt(await readFile(join(stateDir, 'parley.pid'), 'utf8').catch(() => ''), 10) === process.pid;
}

/** `stateDir`: `<recording.dir>/.parley`. Throws RecordingDirInUseError when another live process holds it. */
export async function lockRecordingDir(recordingDir: string, stateDir: string): Promise<RecordingDirLock> {
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, 'parley.pid');
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      // The same process (tests run several Parleys in one process, one after another) or a dead one: take it over.
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid) && (await maybeParley(pid))) throw new RecordingDirInUseError(resolve(recordingDir), pid);
      await unlink(file).catch(() => undefined);
    }
  }
  let released = false;
  return {
    file,
    release: async () => {
      if (released) return;
      released = true;
      // Only our own: a lock another process took over since is left alone.
      const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (pid === process.pid) await unlink(file).catch(() => undefined);
    },
  };
}

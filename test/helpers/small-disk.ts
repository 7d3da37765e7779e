// A real small file system for full-disk tests: a tmpfs of a few MB (needs root
// to mount; `mountSmallDisk` returns null where it cannot), and a filler that
// takes every free byte of it.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  dir: string;
  /** Lazy unmount, then the mount point is removed. */
  unmount(): void;
}

export function mountSmallDisk(size = '2m'): SmallDisk | null {
  const root = mkdtempSync(join(tmpdir(), 'parley-smalldisk-'));
  const dir = join(root, 'disk');
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(root, { recursive: true, force: true });
    return null;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', ['-l', dir]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Writes zeros into `path` until the file system is full (ENOSPC); other errors throw. */
export function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // Also the last few bytes a 64 KB block did not fit into.
  const fd2 = openSync(`${path}.tail`, 'w');
  try {
    for (;;) writeSync(fd2, block, 0, 512);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd2);
  }
}

/** Frees what fillUp took. */
export function unfill(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.tail`, { force: true });
}

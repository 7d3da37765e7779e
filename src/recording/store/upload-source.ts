// The local file an upload reads, opened as recording-file.ts opens what the API
// serves: never through a symlink (O_NOFOLLOW), a regular file only, O_NONBLOCK (a
// FIFO put there must not hang the uploader). Parley may run as root: whoever can
// write into recording.dir could otherwise swap a recording's WAV, while its upload
// waits for a retry, for a link to a file they may not read (/etc/shadow), and the
// uploader would copy that file into the bucket. What is hashed and sent is read
// through /proc/self/fd/<fd> (the opened file itself, each read stream its own
// descriptor), so a link swapped in after the open changes nothing. (A read stream of
// the FileHandle itself would close it when destroyed, autoClose or not.)
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The opened file, its size and the path to read it by (/proc/self/fd/<fd>; where /proc
 * does not say, `path` itself, checked at the open); null when there is nothing at `path`.
 * Throws for a symlink or what is not a regular file.
 */
export async function openUploadSource(path: string): Promise<{ handle: FileHandle; size: number; readPath: string } | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new Error(`${path} is a symlink: not uploaded (a recording's files are regular files)`);
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error(`${path} is not a regular file: not uploaded`);
    const proc = `/proc/self/fd/${handle.fd}`;
    const readPath = await readlink(proc).then(() => proc, () => path);
    return { handle, size: st.size, readPath };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

export async function hashFile(path: string): Promise<{ md5: Buffer; sha256: string }> {
  return hashStream(createReadStream(path, { highWaterMark: 256 * 1024 }));
}

export async function hashStream(s: Readable): Promise<{ md5: Buffer; sha256: string }> {
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  for await (const c of s) {
    md5.update(c as Buffer);
    sha.update(c as Buffer);
  }
  return { md5: md5.digest(), sha256: sha.digest('hex') };
}

// Opening a file of recording.dir for the API without ever leaving the folder.
// Parley may run as root (the quick start does): whoever can write into
// recording.dir must not be able to read any other file through the API by
// putting a symlink (to the file, or to a directory on the way) where a
// recording's file was. So: only a plain name (no separator, no `..`), the real
// path of the folder and of the file compared, the file opened with O_NOFOLLOW
// (a link swapped in after the check fails with ELOOP), the descriptor's own path
// checked again (Linux /proc: a directory swapped on the way), and fstat on the
// descriptor that is then read: a regular file, nothing else.
import { constants } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';

/** What recording ids and file names look like (file-names.ts safeName), and never `..`. */
export const RECORDING_FILE_NAME = /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9._-]{0,200}$/;

// O_NONBLOCK: opening a FIFO put there would otherwise wait for a writer forever
// (and hold a libuv thread); it changes nothing for regular files.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The largest sidecar read (a recording with hundreds of legs is far below). */
const MAX_SIDECAR_BYTES = 8 * 1024 * 1024;

export class RecordingFileError extends Error {
  override name = 'RecordingFileError';

  constructor(
    /** `not_found`: nothing there; `forbidden`: something there that may not be served (a link, not a regular file, outside). */
    readonly kind: 'not_found' | 'forbidden',
    message: string,
    /** For the log only, never for the client: what was found instead. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

export interface OpenedRecordingFile {
  handle: FileHandle;
  size: number;
}

/** Opens `name` inside `dir` for reading; the caller closes the handle (or streams from it with autoClose). */
export async function openRecordingFile(dir: string, name: string): Promise<OpenedRecordingFile> {
  if (!RECORDING_FILE_NAME.test(name)) throw new RecordingFileError('forbidden', `'${name}' is not a file name inside the recordings folder`);
  let root: string;
  try {
    root = await realpath(dir);
  } catch {
    throw new RecordingFileError('not_found', `no file '${name}'`, 'recording.dir does not exist');
  }
  const full = join(root, name);
  let real: string;
  try {
    real = await realpath(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP: a link loop; ENOENT: missing, or a link to nothing.
    if (code === 'ELOOP') throw new RecordingFileError('forbidden', `'${name}' may not be served`, 'a symlink loop');
    throw new RecordingFileError('not_found', `no file '${name}'`, code);
  }
  if (real !== full) {
    const where = real.startsWith(root + sep) ? 'a symlink inside recording.dir' : 'a symlink leaving recording.dir';
    throw new RecordingFileError('forbidden', `'${name}' may not be served`, `${where}: ${real}`);
  }
  let handle: FileHandle;
  try {
    handle = await open(full, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A link put there between realpath and open (O_NOFOLLOW on the last component).
    if (code === 'ELOOP') throw new RecordingFileError('forbidden', `'${name}' may not be served`, 'a symlink (swapped in)');
    throw new RecordingFileError('not_found', `no file '${name}'`, code);
  }
  try {
    const opened = await descriptorPath(handle);
    if (opened !== null && opened !== full) {
      throw new RecordingFileError('forbidden', `'${name}' may not be served`, `opened ${opened} (a directory on the way was swapped)`);
    }
    const st = await handle.stat();
    if (!st.isFile()) throw new RecordingFileError('forbidden', `'${name}' may not be served`, 'not a regular file');
    return { handle, size: st.size };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/** Reads a recording's JSON sidecar (or any small file) with the same checks as openRecordingFile. */
export async function readRecordingText(dir: string, name: string): Promise<string> {
  const { handle, size } = await openRecordingFile(dir, name);
  try {
    if (size > MAX_SIDECAR_BYTES) throw new RecordingFileError('forbidden', `'${name}' is too large to read`, `${size} bytes`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** The path the kernel opened (Linux); null where /proc does not say. */
async function descriptorPath(handle: FileHandle): Promise<string | null> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return null;
  }
}

// A file of a recording, written through the recording I/O thread
// (io/recording-io.ts): positional writes, truncate, fsync, a sha256 read-back
// and close, each a promise. No call runs on the main thread's event loop, and
// none costs it a submission to libuv's pool: the calls of every recording go to
// that thread in batches.
//
// Not a FileHandle: it is not closed on garbage collection, so its owner closes it
// (WavDiskFile always does, in its WavFileWriter's last pass). close() is idempotent and every
// call after it fails with EBADF without touching the descriptor number (which the
// kernel may already have given to another file).
import { recordingIo, type RecordingIo } from './io/recording-io.ts';

export class RawFile {
  /** -1 once close() was called. */
  private fd: number;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly io: RecordingIo,
  ) {
    this.fd = fd;
  }

  /** Creates the file (and its folder when it is missing), for writing and reading back; never opens an existing one (EEXIST). */
  static async createNew(path: string): Promise<RawFile> {
    const io = recordingIo();
    return new RawFile(path, await io.create(path), io);
  }

  /** pwrite(2): the bytes written (a short write is the caller's to continue). `buf` must not change until it resolves. */
  write(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    const fd = this.fd;
    if (fd < 0) return this.closedError();
    return this.io.write(fd, buf, offset, length, position);
  }

  truncate(length: number): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return this.closedError();
    return this.io.truncate(fd, length);
  }

  sync(): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return this.closedError();
    return this.io.sync(fd);
  }

  /** The sha256 of the whole file, read back from offset 0. */
  sha256(): Promise<string> {
    const fd = this.fd;
    if (fd < 0) return this.closedError();
    return this.io.sha256(fd);
  }

  /** Idempotent: the descriptor is closed once (a second call gets the first one's outcome). */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const fd = this.fd;
    this.fd = -1;
    this.closing = this.io.close(fd);
    return this.closing;
  }

  private closedError(): Promise<never> {
    return Promise.reject(Object.assign(new Error(`${this.path}: file already closed`), { code: 'EBADF' }));
  }
}

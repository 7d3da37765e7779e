// A WAV file written for crash safety without blocking the media tick:
// - append() copies samples into memory only (no syscall on the tick);
// - flush() (the Recorder's timer, every flushIntervalMs) hands the buffered
//   bytes to one positional async write, then rewrites the RIFF and data sizes
//   for the bytes that write has confirmed, so the header never claims data
//   that is not there. A kill -9 loses at most what was still in memory;
// - closeSync() writes the rest and the final header synchronously; the fsync and
//   the close(2) of the descriptor follow asynchronously (`closed` resolves then).
//
// fsync policy: none while recording. kill -9 only needs write(2) to have
// returned (the data is in the page cache, the kernel writes it out); an fsync
// per file per second would make many rooms' disk traffic synchronous. One fsync
// after close protects the finished file against a power loss; it runs on the
// threadpool because it can take milliseconds and close() runs on the event loop.
import { close, fsync, openSync, write, writeSync } from 'node:fs';

export const WAV_HEADER_BYTES = 44;

export function wavHeader(dataBytes: number, sampleRate: number, channels: number): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(Math.min(0xffffffff - 36, dataBytes), 40);
  return h;
}

const CHUNK_BYTES = 64 * 1024;
/** Audio held in memory beyond this means the disk does not keep up: reported once. */
const BACKLOG_WARN_SECONDS = 30;

export class WavFileWriter {
  /** Resolves when the file descriptor is closed (after any write in flight). */
  readonly closed: Promise<void>;
  private readonly fd: number;
  private chunks: Buffer[] = [];
  private current: Buffer;
  private used = 0;
  /** Bytes handed to write calls (their file positions are fixed). */
  private dispatched = 0;
  /** Bytes write calls have confirmed. */
  private confirmed = 0;
  private inFlight = false;
  private isClosed = false;
  private failed: Error | null = null;
  private resolveClosed!: () => void;
  private idleWaiters: (() => void)[] = [];
  private backlogReported = false;

  constructor(
    readonly path: string,
    readonly sampleRate: number,
    readonly channels: number,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.fd = openSync(path, 'wx'); // never overwrite an existing recording
    writeSync(this.fd, wavHeader(0, sampleRate, channels), 0, WAV_HEADER_BYTES, 0);
    this.current = Buffer.allocUnsafe(CHUNK_BYTES);
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** Total sample frames appended (per channel). */
  get frames(): number {
    return (this.dispatched + this.bufferedBytes()) / (2 * this.channels);
  }

  get durationMs(): number {
    return (this.frames * 1000) / this.sampleRate;
  }

  /** Copies interleaved samples into memory; no I/O. */
  append(samples: Int16Array): void {
    // After a write error the file is given up (reported once): do not grow memory.
    if (this.isClosed || this.failed) return;
    const src = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    let off = 0;
    while (off < src.length) {
      const n = Math.min(src.length - off, CHUNK_BYTES - this.used);
      src.copy(this.current, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === CHUNK_BYTES) {
        this.chunks.push(this.current);
        this.current = Buffer.allocUnsafe(CHUNK_BYTES);
        this.used = 0;
        this.checkBacklog();
      }
    }
  }

  /** Keeps buffering (audio is not dropped), but says so once: memory grows while the disk stalls. */
  private checkBacklog(): void {
    const seconds = this.bufferedBytes() / (2 * this.channels * this.sampleRate);
    if (seconds > BACKLOG_WARN_SECONDS && !this.backlogReported) {
      this.backlogReported = true;
      this.onError(new Error(`${this.path}: ${seconds.toFixed(0)} s of audio waiting for the disk`));
    }
  }

  /** Appends `count` frames of silence. */
  appendSilence(count: number): void {
    if (count > 0) this.append(new Int16Array(count * this.channels));
  }

  /** Starts one async write of what is buffered, then a header rewrite; skips if one is in flight. */
  flush(): void {
    if (this.isClosed || this.inFlight || this.failed) return;
    const data = this.takeBuffered();
    if (data.length === 0) return;
    this.inFlight = true;
    const pos = WAV_HEADER_BYTES + this.dispatched;
    this.dispatched += data.length;
    write(this.fd, data, 0, data.length, pos, (err) => {
      if (err) return this.writeFailed(err);
      this.confirmed += data.length;
      if (this.isClosed) return this.finishClose();
      const header = wavHeader(this.confirmed, this.sampleRate, this.channels);
      write(this.fd, header, 0, WAV_HEADER_BYTES, 0, (err2) => {
        if (err2) return this.writeFailed(err2);
        if (this.isClosed) return this.finishClose();
        this.setIdle();
      });
    });
  }

  /** Writes everything left and the final header synchronously. Idempotent. */
  closeSync(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (!this.failed) {
      try {
        const data = this.takeBuffered();
        if (data.length > 0) writeSync(this.fd, data, 0, data.length, WAV_HEADER_BYTES + this.dispatched);
        this.dispatched += data.length;
        writeSync(this.fd, wavHeader(this.dispatched, this.sampleRate, this.channels), 0, WAV_HEADER_BYTES, 0);
      } catch (err) {
        this.failed = err as Error;
        this.onError(err as Error);
      }
    }
    // With a write in flight the fd must stay open until it returns (closing it could
    // let the threadpool write into a reused descriptor); its callback finishes the close.
    if (!this.inFlight) this.finishClose();
  }

  private finishClose(): void {
    try {
      // A header write that was in flight may have landed after the final one: restore it.
      if (!this.failed && this.inFlight) {
        writeSync(this.fd, wavHeader(this.dispatched, this.sampleRate, this.channels), 0, WAV_HEADER_BYTES, 0);
      }
    } catch (err) {
      this.onError(err as Error);
    }
    const done = (): void => {
      this.setIdle();
      this.resolveClosed();
    };
    const closeFd = (): void =>
      close(this.fd, (err) => {
        if (err) this.onError(err);
        done();
      });
    if (this.failed) return closeFd();
    fsync(this.fd, (err) => {
      if (err) this.onError(err);
      closeFd();
    });
  }

  private writeFailed(err: Error): void {
    this.failed = err;
    this.onError(err);
    if (this.isClosed) this.finishClose();
    else this.setIdle();
  }

  /** Resolves when no write is in flight (for tests and tools; the recorder never waits). */
  whenIdle(): Promise<void> {
    if (!this.inFlight) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private setIdle(): void {
    this.inFlight = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private bufferedBytes(): number {
    return this.chunks.length * CHUNK_BYTES + this.used;
  }

  private takeBuffered(): Buffer {
    const parts = this.chunks;
    if (this.used > 0) parts.push(this.current.subarray(0, this.used));
    const data = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    this.chunks = [];
    if (this.used > 0) {
      this.current = Buffer.allocUnsafe(CHUNK_BYTES);
      this.used = 0;
    }
    return data ?? Buffer.alloc(0);
  }
}

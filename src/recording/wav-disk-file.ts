// The file side of a WavFileWriter: its RawFile, where the data and the header
// stand on disk, and the file's completion. WavFileWriter decides what to write
// and when (buffering, passes, failures); this writes it at the right place.
// - Plain WAV: data goes after the 44-byte header with positional writes (a short
//   write is continued by the next call); the header claims only the whole sample
//   frames on disk, and is rewritten only when that claim changes. With
//   `headerEveryPasses` above 1 it is rewritten every that many passes (and always
//   when forced: after a failure, on recovery, at close).
// - Encrypted (a PcmSealer given): the file is chunk-format.ts instead, its header
//   written once; each sealed chunk is appended (a chunk whose write failed is
//   rewritten as sealed, never resealed), and completion appends the trailer.
// - complete(), after the last pass (which wrote the final header): a trailing
//   partial sample frame is cut (encrypted: a torn chunk, then the trailer is
//   appended), one fsync, `sha256` read back once through the open descriptor (so
//   finalization does not open and stream every file again), close(2).
//
// fsync policy: none while recording. kill -9 only needs write(2) to have
// returned (the data is in the page cache); one fsync at completion protects the
// finished file against a power loss.
import { rm } from 'node:fs/promises';
import type { PcmSealer } from './encryption/pcm-sealer.ts';
import { RawFile } from './raw-file.ts';

export const WAV_HEADER_BYTES = 44;

export function wavHeader(dataBytes: number, sampleRate: number, channels: number): Buffer {
  return fillWavHeader(Buffer.alloc(WAV_HEADER_BYTES), dataBytes, sampleRate, channels);
}

/** Writes the 44-byte header for `dataBytes` of audio into `h` (at least WAV_HEADER_BYTES long); returns `h`. */
function fillWavHeader(h: Buffer, dataBytes: number, sampleRate: number, channels: number): Buffer {
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

export class WavDiskFile {
  private fh: RawFile | null = null;
  /** Bytes of audio on disk after the header, contiguous (plain bytes when encrypted). */
  private data = 0;
  /** The data size the header on disk claims; -1 while no header is on disk. */
  private headerClaim = -1;
  /** Passes since the header was last rewritten. */
  private passes = 0;
  /** Encrypted: where the next chunk goes, and a sealed chunk not yet fully written. */
  private fileBytes = 0;
  private pendingChunk: { chunk: Buffer; plainBytes: number } | null = null;
  /** The sha256 of the complete file, set by complete() (null: lost, or it could not be read back). */
  sha256: string | null = null;
  /**
   * The plain file's header, filled again for each rewrite: a new Buffer (an ArrayBuffer with
   * its backing store) for every rewrite was most of a pass's garbage. Reusing it is safe: a
   * file's writes are awaited one after the other, and a write's bytes are only read until it
   * resolves (RawFile.write).
   */
  private header: Buffer | null = null;

  constructor(
    readonly path: string,
    private readonly sampleRate: number,
    private readonly channels: number,
    private readonly blockAlign: number,
    private readonly sealer: PcmSealer | null,
    /** The header is rewritten every this many passes (1: every pass). */
    private readonly headerEveryPasses: number,
    /** A write that completion could not make (reported; completion goes on). */
    private readonly writeFailed: (err: Error) => void,
  ) {}

  /** Bytes of audio on disk after the header, contiguous. */
  get dataBytes(): number {
    return this.data;
  }

  /** The file exists (this writer created it). */
  get created(): boolean {
    return this.fh !== null;
  }

  /** Encrypted: a sealed chunk waits to be (re)written. */
  get hasPendingChunk(): boolean {
    return this.pendingChunk !== null;
  }

  /** open() has nothing left to do: the file exists and its first header is on disk. */
  get opened(): boolean {
    return this.fh !== null && this.headerClaim >= 0;
  }

  /**
   * Creates the file (never an existing one: EEXIST) and writes its first header,
   * if not done yet. True when this call wrote that header (the pass that did
   * does not count towards headerEveryPasses).
   */
  async open(): Promise<boolean> {
    if (this.sealer) await this.sealer.ready();
    if (!this.fh) this.fh = await RawFile.createNew(this.path);
    const opening = this.headerClaim < 0;
    if (opening) await this.writeHeader();
    return opening;
  }

  /**
   * Plain: writes `buf` after the data on disk; resolves with the bytes written, which the
   * caller hands to dataWritten() before its next write (a short write is the caller's to
   * continue). Not an async function: a pass's data write makes no promise of its own.
   */
  writeData(buf: Buffer): Promise<number> {
    return this.fh!.write(buf, 0, buf.length, WAV_HEADER_BYTES + this.data);
  }

  /** `bytesWritten` of a writeData() reached the disk; throws when the disk took none. */
  dataWritten(bytesWritten: number): number {
    // A short write is followed by another for the rest (which then fails with the real error).
    if (bytesWritten <= 0) throw new Error(`${this.path}: the disk took no bytes`);
    this.data += bytesWritten;
    return bytesWritten;
  }

  /** Encrypted: seals `plain` as the next chunk (written by writePendingChunk). */
  sealChunk(plain: Buffer): void {
    this.pendingChunk = { chunk: this.sealer!.seal(plain), plainBytes: plain.length };
  }

  /** Encrypted: appends the sealed chunk; the plain bytes it holds (now on disk). */
  async writePendingChunk(): Promise<number> {
    const p = this.pendingChunk!;
    await this.writeFully(this.fh!, p.chunk, this.fileBytes);
    this.fileBytes += p.chunk.length;
    this.data += p.plainBytes;
    this.pendingChunk = null;
    return p.plainBytes;
  }

  /**
   * The end of a pass: whether the header is to be rewritten now (every headerEveryPasses, or
   * `force`); the caller then calls writeHeader(). Synchronous, so that the passes that skip
   * the header (most of them) make no promise for it.
   */
  headerDue(opening: boolean, force: boolean): boolean {
    // A header that lags behind the data is still true (it claims less than is there).
    // (The pass that created the file wrote its header first: it does not count.)
    if (this.headerEveryPasses <= 1 || force || (!opening && ++this.passes >= this.headerEveryPasses)) {
      this.passes = 0;
      return true;
    }
    return false;
  }

  /** The header for the whole sample frames on disk; skipped when it already says so. */
  async writeHeader(): Promise<void> {
    if (!this.fh) return;
    if (this.sealer) {
      // Written once; the chunks carry everything else.
      if (this.headerClaim >= 0) return;
      await this.writeFully(this.fh, this.sealer.fileHeader(), 0);
      this.fileBytes = this.sealer.headerBytes;
      this.headerClaim = 0;
      return;
    }
    const claim = this.data - (this.data % this.blockAlign);
    if (claim === this.headerClaim) return;
    this.header = fillWavHeader(this.header ?? Buffer.alloc(WAV_HEADER_BYTES), claim, this.sampleRate, this.channels);
    const bytesWritten = await this.fh.write(this.header, 0, WAV_HEADER_BYTES, 0);
    if (bytesWritten !== WAV_HEADER_BYTES) throw new Error(`${this.path}: short header write (${bytesWritten} bytes)`);
    this.headerClaim = claim;
  }

  /**
   * After the last pass of a created file: made consistent, synced, hashed and
   * closed. Returns why the file is not on disk (null: it is); `why` says what
   * kept it from being written. Never rejects: failures go to `writeFailed`.
   */
  async complete(why: string): Promise<string | null> {
    const fh = this.fh;
    this.fh = null;
    if (!fh) return null;
    try {
      if (this.headerClaim < 0) {
        // Not even the header fits: an empty, unplayable file is worse than none.
        await fh.close();
        await rm(this.path, { force: true });
        return `removed, nothing could be written: ${why}`;
      }
      if (this.sealer) {
        // A torn chunk is cut off; the trailer closes the file (its total authenticates the chunks).
        await fh.truncate(this.fileBytes);
        await this.writeFully(fh, this.sealer.trailer(this.data), this.fileBytes).catch((err: unknown) => this.writeFailed(err as Error));
      } else {
        // The last pass wrote the header for the whole sample frames (or, failing, for
        // what reached the disk): a partial sample frame after them is cut.
        const claim = this.data - (this.data % this.blockAlign);
        if (claim !== this.data) await fh.truncate(WAV_HEADER_BYTES + claim);
        this.data = claim;
      }
      await fh.sync().catch((err: unknown) => this.writeFailed(err as Error));
      this.sha256 = await fh.sha256().catch(() => null);
      await fh.close();
    } catch (err) {
      this.writeFailed(err as Error);
      await fh.close().catch(() => undefined);
    }
    return null;
  }

  private async writeFully(fh: RawFile, buf: Buffer, at: number): Promise<void> {
    for (let off = 0; off < buf.length; ) {
      const bytesWritten = await fh.write(buf, off, buf.length - off, at + off);
      if (bytesWritten <= 0) throw new Error(`${this.path}: the disk took no bytes`);
      off += bytesWritten;
    }
  }
}

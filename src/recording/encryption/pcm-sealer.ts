// Seals one recording file's PCM stream chunk by chunk (chunk-format.ts) for
// WavFileWriter: the file header once, a chunk per flush, the trailer at close.
import { FILE_HEADER_BYTES, FLAG_FINAL, newFileHeader, sealChunk, trailerPlain, type FileHeader } from './chunk-format.ts';

export class PcmSealer {
  readonly headerBytes = FILE_HEADER_BYTES;
  private readonly header: FileHeader;
  private index = 0;

  constructor(
    private readonly dataKey: Buffer,
    channels: number,
    sampleRate: number,
    /** Resolves when the recording's key file is on disk (retried by each call after a failure). */
    readonly ready: () => Promise<void>,
  ) {
    this.header = newFileHeader(channels, sampleRate);
  }

  fileHeader(): Buffer {
    return this.header.raw;
  }

  /** The next chunk. Each call uses a new nonce: a chunk that failed to write is rewritten as it was, never resealed. */
  seal(plain: Buffer): Buffer {
    return sealChunk(this.dataKey, this.header, this.index++, plain);
  }

  trailer(totalPlain: number): Buffer {
    return sealChunk(this.dataKey, this.header, this.index++, trailerPlain(totalPlain), FLAG_FINAL);
  }
}

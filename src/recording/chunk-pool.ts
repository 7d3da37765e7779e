// The 64 KiB buffers WavFileWriter fills with audio, used again instead of made
// per file and per 64 KiB of audio: under call load they were external memory
// that drove V8's GCs on the main thread. A writer gives a chunk back only when
// no byte of it is still waiting to be written or held by a write in flight
// (wav-file-writer.ts says when); the pool keeps at most MAX_FREE of them.
export const CHUNK_BYTES = 64 * 1024;
const MAX_FREE = 128;

export class ChunkPool {
  private readonly free: ArrayBuffer[] = [];
  /** Chunks made new, and taken from the pool (for tests and benches). */
  made = 0;
  reused = 0;

  /** A chunk of CHUNK_BYTES (its bytes are whatever they were: the writer writes before it reads). */
  take(): Buffer {
    const ab = this.free.pop();
    if (ab) {
      this.reused++;
      return Buffer.from(ab, 0, CHUNK_BYTES);
    }
    this.made++;
    // Its own ArrayBuffer (never a slice of Node's shared pool), so that it can be given back whole.
    return Buffer.allocUnsafeSlow(CHUNK_BYTES);
  }

  /** `chunk` (one that take() returned) is used no more by its writer. */
  give(chunk: Buffer): void {
    const ab = chunk.buffer;
    if (!(ab instanceof ArrayBuffer) || ab.byteLength !== CHUNK_BYTES || chunk.byteOffset !== 0) return; // not one of ours
    if (this.free.length >= MAX_FREE || this.free.includes(ab)) return;
    this.free.push(ab);
  }

  get freeCount(): number {
    return this.free.length;
  }
}

let shared: ChunkPool | null = null;

/** The process's pool (every recording's writers). */
export function chunkPool(): ChunkPool {
  shared ??= new ChunkPool();
  return shared;
}

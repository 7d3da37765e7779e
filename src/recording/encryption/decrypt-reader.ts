// Reading encrypted recording files (chunk-format.ts) back as WAV, streaming:
// chunks are decrypted as they arrive, never the whole file in memory. The WAV
// header comes first, from the trailer's total (one small ranged read), so that
// the API can announce Content-Length before any audio.
import { Readable } from 'node:stream';
import { wavHeader, WAV_HEADER_BYTES } from '../wav-disk-file.ts';
import {
  CHUNK_HEADER_BYTES,
  CHUNK_OVERHEAD,
  EncryptedFileError,
  FILE_HEADER_BYTES,
  FLAG_FINAL,
  MAX_CHUNK_PLAIN,
  openChunk,
  parseChunkHeader,
  parseFileHeader,
  TRAILER_BYTES,
  type FileHeader,
} from './chunk-format.ts';

/** Random access to the bytes of a file (on disk or in a bucket). */
export interface ByteSource {
  size: number;
  /** Bytes [start, end] (inclusive), or to the end. */
  read(start: number, end?: number): Promise<Readable> | Readable;
}

export interface DecryptSummary {
  header: FileHeader;
  /** Plaintext bytes decrypted. */
  plainBytes: number;
  /** Bytes of the file that hold the header and whole, authentic chunks (where a repair cuts). */
  validBytes: number;
  /** The trailer was found (the file was closed, or repaired). */
  complete: boolean;
  /** Chunks that authenticated (the trailer included). */
  chunks: number;
  /** Why decryption stopped early (tolerant mode): a torn or unauthentic chunk at the end. */
  stoppedAt: string | null;
}

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/**
 * Decrypts a whole file's stream, yielding each chunk's plaintext. Strict: any
 * problem throws EncryptedFileError. Tolerant (reading what a kill -9 left): a
 * torn or unauthentic chunk that reaches the end of the file ends the stream
 * quietly (`stoppedAt` says why); one followed by more data still throws (that
 * is tampering, not a crash).
 */
export async function* decryptChunks(
  input: AsyncIterable<Buffer | string>,
  key: Buffer,
  what: string,
  tolerant: boolean,
  summary: Partial<DecryptSummary> = {},
): AsyncGenerator<Buffer, DecryptSummary> {
  let buf = Buffer.alloc(0);
  let header: FileHeader | null = null;
  let index = 0;
  let plainBytes = 0;
  let validBytes = 0;
  let complete = false;
  let stoppedAt: string | null = null;
  let ended = false;
  const it = input[Symbol.asyncIterator]();
  /** Until `n` bytes are buffered or the input ends. */
  const need = async (n: number): Promise<boolean> => {
    while (buf.length < n && !ended) {
      const r = await it.next();
      if (r.done) ended = true;
      else buf = buf.length === 0 ? Buffer.from(r.value as Buffer) : Buffer.concat([buf, r.value as Buffer]);
    }
    return buf.length >= n;
  };
  if (!(await need(FILE_HEADER_BYTES))) throw new EncryptedFileError(`${what}: shorter than its header`);
  header = parseFileHeader(buf, what);
  buf = buf.subarray(FILE_HEADER_BYTES);
  validBytes = FILE_HEADER_BYTES;
  Object.assign(summary, { header });
  for (;;) {
    if (!(await need(1))) break;
    if (complete) throw new EncryptedFileError(`${what}: data after the trailer`);
    if (!(await need(CHUNK_HEADER_BYTES))) {
      stoppedAt = `torn chunk header at byte ${validBytes}`;
      break;
    }
    const ch = parseChunkHeader(buf);
    if (ch.length > MAX_CHUNK_PLAIN) {
      stoppedAt = `chunk ${index} claims ${ch.length} bytes`;
      if (!tolerant || (await need(CHUNK_OVERHEAD + 1))) throw new EncryptedFileError(`${what}: ${stoppedAt}`);
      break;
    }
    if (!(await need(CHUNK_OVERHEAD + ch.length))) {
      stoppedAt = `chunk ${index} torn (${buf.length} of ${CHUNK_OVERHEAD + ch.length} bytes)`;
      break;
    }
    const whole = buf.subarray(0, CHUNK_OVERHEAD + ch.length);
    let opened: { plain: Buffer; final: boolean };
    try {
      opened = openChunk(key, header, whole, index, what);
    } catch (err) {
      buf = buf.subarray(whole.length);
      // At the very end, a crash's leftover (a power loss leaves zeroed pages); with data
      // after it, or claiming to be the trailer (written only at close or repair), tampering.
      if (tolerant && (ch.flags & FLAG_FINAL) === 0 && !(await need(1))) {
        stoppedAt = (err as Error).message;
        break;
      }
      throw err;
    }
    buf = buf.subarray(whole.length);
    index++;
    validBytes += whole.length;
    if (opened.final) {
      const total = Number(opened.plain.readBigUInt64BE(0));
      if (total !== plainBytes) throw new EncryptedFileError(`${what}: the trailer says ${total} bytes, the chunks hold ${plainBytes} (chunks removed)`);
      complete = true;
      continue;
    }
    plainBytes += opened.plain.length;
    Object.assign(summary, { plainBytes, validBytes });
    yield opened.plain;
  }
  if (!complete && !tolerant) {
    throw new EncryptedFileError(`${what}: incomplete (${stoppedAt ?? 'no trailer'}): cut short and not yet repaired, or still being written`);
  }
  const done: DecryptSummary = { header, plainBytes, validBytes, complete, stoppedAt, chunks: index };
  Object.assign(summary, done);
  return done;
}

/** The total plaintext of a complete file, from its trailer (the last 36 bytes); null when it has none. */
export async function trailerTotal(src: ByteSource, key: Buffer, what: string): Promise<{ header: FileHeader; total: number } | null> {
  if (src.size < FILE_HEADER_BYTES) throw new EncryptedFileError(`${what}: shorter than its header`);
  const header = parseFileHeader(await readAll(await src.read(0, FILE_HEADER_BYTES - 1)), what);
  if (src.size < FILE_HEADER_BYTES + TRAILER_BYTES) return null;
  const tail = await readAll(await src.read(src.size - TRAILER_BYTES, src.size - 1));
  const ch = parseChunkHeader(tail);
  if (ch.length !== 8 || (ch.flags & 1) === 0) return null;
  const { plain } = openChunk(key, header, tail, ch.index, what);
  return { header, total: Number(plain.readBigUInt64BE(0)) };
}

/**
 * A complete encrypted file as a WAV stream: `size` (for Content-Length) and a
 * Readable that errors (EncryptedFileError) if any chunk does not authenticate.
 * Throws before any byte when the file is incomplete or the key is wrong.
 */
export async function decryptedWav(src: ByteSource, key: Buffer, what: string): Promise<{ size: number; stream: Readable }> {
  const t = await trailerTotal(src, key, what);
  if (!t) throw new EncryptedFileError(`${what}: incomplete (no trailer): the recording is still being written, or awaits its repair at the next start`);
  const head = wavHeader(t.total, t.header.sampleRate, t.header.channels);
  const body = await src.read(0);
  async function* gen(): AsyncGenerator<Buffer> {
    yield head;
    yield* decryptChunks(body as AsyncIterable<Buffer>, key, what, false);
  }
  const stream = Readable.from(gen(), { objectMode: false });
  stream.on('close', () => body.destroy());
  return { size: WAV_HEADER_BYTES + t.total, stream };
}

// The on-disk format of an encrypted recording file ("PRLYENC1"): a PCM stream
// (s16le, interleaved) sealed in AES-256-GCM chunks, one per flush, so that a
// kill -9 loses only what was still in memory: every chunk written before it
// authenticates and decrypts on its own. The WAV header is not stored (it was
// rewritten at each flush, which a sealed stream cannot do): it is derived at
// decryption from the channels, rate and plaintext length.
//
//   file header (32 bytes, plaintext, authenticated with every chunk):
//     'PRLYENC1' | version u8 (1) | kind u8 (1: PCM s16le) | channels u16 BE |
//     sampleRate u32 BE | nonce prefix (8 random bytes) | 8 zero bytes
//   chunk: index u32 BE | length u32 BE | flags u32 BE | ciphertext (length) | tag (16)
//     nonce = nonce prefix | index u32 BE; AAD = file header | chunk header
//   trailer: the last chunk of a complete file, flags FINAL, its plaintext the
//     total plaintext bytes (u64 BE). A file without one was cut short (repaired
//     at the next start: a torn chunk is cut off and the trailer appended).
//
// The per-file random nonce prefix keeps nonces unique across the files of a
// recording, which share its data key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const MAGIC = 'PRLYENC1';
export const FILE_HEADER_BYTES = 32;
export const CHUNK_HEADER_BYTES = 12;
export const TAG_BYTES = 16;
export const CHUNK_OVERHEAD = CHUNK_HEADER_BYTES + TAG_BYTES;
export const TRAILER_BYTES = CHUNK_OVERHEAD + 8;
/** The largest plaintext of one chunk (a flush writes at most this much per chunk). */
export const MAX_CHUNK_PLAIN = 1024 * 1024;
export const FLAG_FINAL = 1;

export interface FileHeader {
  channels: number;
  sampleRate: number;
  noncePrefix: Buffer;
  /** The 32 bytes as on disk (the AAD of every chunk). */
  raw: Buffer;
}

export class EncryptedFileError extends Error {
  override name = 'EncryptedFileError';
}

export function newFileHeader(channels: number, sampleRate: number): FileHeader {
  const raw = Buffer.alloc(FILE_HEADER_BYTES);
  raw.write(MAGIC, 0, 'ascii');
  raw.writeUInt8(1, 8);
  raw.writeUInt8(1, 9);
  raw.writeUInt16BE(channels, 10);
  raw.writeUInt32BE(sampleRate, 12);
  const noncePrefix = randomBytes(8);
  noncePrefix.copy(raw, 16);
  return { channels, sampleRate, noncePrefix, raw };
}

export function parseFileHeader(raw: Buffer, what = 'file'): FileHeader {
  if (raw.length < FILE_HEADER_BYTES || raw.toString('ascii', 0, 8) !== MAGIC) {
    throw new EncryptedFileError(`${what}: not a Parley encrypted recording file (no ${MAGIC} header)`);
  }
  if (raw.readUInt8(8) !== 1 || raw.readUInt8(9) !== 1) throw new EncryptedFileError(`${what}: unknown encrypted file version ${raw.readUInt8(8)}`);
  const header = Buffer.from(raw.subarray(0, FILE_HEADER_BYTES));
  return { channels: header.readUInt16BE(10), sampleRate: header.readUInt32BE(12), noncePrefix: header.subarray(16, 24), raw: header };
}

function nonce(h: FileHeader, index: number): Buffer {
  const n = Buffer.allocUnsafe(12);
  h.noncePrefix.copy(n, 0);
  n.writeUInt32BE(index, 8);
  return n;
}

/** One sealed chunk: header, ciphertext, tag, in one buffer ready to write. */
export function sealChunk(key: Buffer, h: FileHeader, index: number, plain: Buffer, flags = 0): Buffer {
  if (plain.length > MAX_CHUNK_PLAIN) throw new RangeError(`chunk of ${plain.length} bytes is over ${MAX_CHUNK_PLAIN}`);
  const out = Buffer.allocUnsafe(CHUNK_OVERHEAD + plain.length);
  out.writeUInt32BE(index, 0);
  out.writeUInt32BE(plain.length, 4);
  out.writeUInt32BE(flags, 8);
  const c = createCipheriv('aes-256-gcm', key, nonce(h, index));
  c.setAAD(Buffer.concat([h.raw, out.subarray(0, CHUNK_HEADER_BYTES)]));
  const n = c.update(plain).copy(out, CHUNK_HEADER_BYTES);
  c.final();
  c.getAuthTag().copy(out, CHUNK_HEADER_BYTES + n);
  return out;
}

export interface ChunkHeader {
  index: number;
  length: number;
  flags: number;
}

export function parseChunkHeader(b: Buffer, at = 0): ChunkHeader {
  return { index: b.readUInt32BE(at), length: b.readUInt32BE(at + 4), flags: b.readUInt32BE(at + 8) };
}

/** The plaintext of a whole chunk (header included in `chunk`); throws EncryptedFileError when it does not authenticate. */
export function openChunk(key: Buffer, h: FileHeader, chunk: Buffer, expectIndex: number, what = 'file'): { plain: Buffer; final: boolean } {
  const ch = parseChunkHeader(chunk);
  if (ch.index !== expectIndex) throw new EncryptedFileError(`${what}: chunk ${expectIndex} is numbered ${ch.index} (chunks reordered or removed)`);
  if (chunk.length !== CHUNK_OVERHEAD + ch.length) throw new EncryptedFileError(`${what}: chunk ${expectIndex} is incomplete`);
  const d = createDecipheriv('aes-256-gcm', key, nonce(h, ch.index));
  d.setAAD(Buffer.concat([h.raw, chunk.subarray(0, CHUNK_HEADER_BYTES)]));
  d.setAuthTag(chunk.subarray(CHUNK_HEADER_BYTES + ch.length));
  try {
    const plain = Buffer.concat([d.update(chunk.subarray(CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + ch.length)), d.final()]);
    return { plain, final: (ch.flags & FLAG_FINAL) !== 0 };
  } catch {
    throw new EncryptedFileError(`${what}: chunk ${expectIndex} does not authenticate (altered, or another data key)`);
  }
}

/** The trailer's plaintext: the total plaintext bytes before it. */
export function trailerPlain(total: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(total));
  return b;
}

// Recovery of an encrypted file a process left unfinished (kill -9): every chunk
// is authenticated; a torn or unauthentic chunk at the very end (the write the
// kill interrupted) is cut off and the trailer appended, so the file decrypts
// up to the last chunk that was flushed. A bad chunk followed by more data is
// not a crash's leftover: the file is left as it is and the error says so.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { FLAG_FINAL, sealChunk, trailerPlain } from './chunk-format.ts';
import { decryptChunks, type DecryptSummary } from './decrypt-reader.ts';

export interface RepairResult {
  plainBytes: number;
  channels: number;
  sampleRate: number;
  /** Bytes cut off the end (a torn chunk); 0 when the file was complete or ended cleanly between chunks. */
  cutBytes: number;
  /** Already had its trailer. */
  wasComplete: boolean;
}

/** Scans the file with `key` (the whole file is read once, a chunk at a time). */
export async function scanEncrypted(path: string, key: Buffer, what: string): Promise<DecryptSummary> {
  const gen = decryptChunks(createReadStream(path, { highWaterMark: 256 * 1024 }), key, what, true);
  for (;;) {
    const r = await gen.next();
    if (r.done) return r.value;
  }
}

export async function repairEncrypted(path: string, key: Buffer, what: string): Promise<RepairResult> {
  const s = await scanEncrypted(path, key, what);
  const base = { plainBytes: s.plainBytes, channels: s.header.channels, sampleRate: s.header.sampleRate };
  if (s.complete) return { ...base, cutBytes: 0, wasComplete: true };
  const fh = await open(path, 'r+');
  try {
    const size = (await fh.stat()).size;
    await fh.truncate(s.validBytes);
    const trailer = sealChunk(key, s.header, s.chunks, trailerPlain(s.plainBytes), FLAG_FINAL);
    await fh.write(trailer, 0, trailer.length, s.validBytes);
    await fh.sync();
    return { ...base, cutBytes: size - s.validBytes, wasComplete: false };
  } finally {
    await fh.close();
  }
}

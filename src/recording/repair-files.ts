// What recovery does to each file of a recording a process left unfinished (recover-recordings.ts,
// adopt-orphans.ts): a plain WAV's header set to the whole sample frames on disk, an encrypted file's
// torn chunk cut and its trailer appended; then the sidecar closed and finalized (hashes, post-processing,
// the finalize mark, the steps: signing, upload). All file I/O is asynchronous.
import { open, rm, stat } from 'node:fs/promises';
import { finalizeRecording } from './finalize-recording.ts';
import { pathInside } from './file-names.ts';
import type { FileEntry, RecordingMetadata } from './metadata.ts';
import type { RecoverOptions } from './recover-recordings.ts';
import { SidecarWriter } from './sidecar-writer.ts';
import { WAV_HEADER_BYTES, wavHeader } from './wav-disk-file.ts';
import { repairEncrypted } from './encryption/repair-encrypted.ts';

/**
 * Sets the header to the whole sample frames on disk (cutting a partial one off)
 * and the entry's duration to them. A file without a complete header holds no
 * audio anyone can play: it is removed and the entry says so.
 */
export async function repairWav(o: Pick<RecoverOptions, 'dir'>, f: FileEntry): Promise<void> {
  const path = pathInside(o.dir, f.file);
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  if (size < WAV_HEADER_BYTES) {
    if (size >= 0) await rm(path, { force: true });
    f.lost ??= size < 0 ? 'missing after an interruption' : 'removed: no complete header after an interruption';
    f.durationMs = 0;
    return;
  }
  const block = 2 * f.channels;
  const data = size - WAV_HEADER_BYTES;
  const claim = data - (data % block);
  const fh = await open(path, 'r+');
  try {
    if (claim !== data) await fh.truncate(WAV_HEADER_BYTES + claim);
    await fh.write(wavHeader(claim, f.sampleRate, f.channels), 0, WAV_HEADER_BYTES, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  f.durationMs = Math.round((claim / block / f.sampleRate) * 1000);
}

/** repairWav for an encrypted file: a torn last chunk cut off, the trailer appended (repair-encrypted.ts). */
export async function repairSealed(o: Pick<RecoverOptions, 'dir'>, f: FileEntry, key: Buffer, meta: RecordingMetadata): Promise<void> {
  const path = pathInside(o.dir, f.file);
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  if (size < 32) {
    if (size >= 0) await rm(path, { force: true });
    f.lost ??= size < 0 ? 'missing after an interruption' : 'removed: no complete header after an interruption';
    f.durationMs = 0;
    return;
  }
  const r = await repairEncrypted(path, key, f.file);
  if (r.cutBytes > 0) meta.errors.push(`${f.file}: a torn chunk of ${r.cutBytes} bytes was cut off after an interruption`);
  f.durationMs = Math.round((r.plainBytes / (2 * r.channels) / r.sampleRate) * 1000);
}

/**
 * The repaired `meta` (its `files` repaired) closed, hashed, post-processed and written `finalized` at
 * `<id>.json`, its finalize mark first; the steps run once it is on disk. False: the final sidecar could
 * not be written (the disk still full): not signed nor reported now, the next start tries again.
 */
export async function finalizeRepaired(o: RecoverOptions, id: string, meta: RecordingMetadata, files: FileEntry[]): Promise<boolean> {
  meta.state = 'closed';
  const sidecar = new SidecarWriter(pathInside(o.dir, `${id}.json`), { error: (err) => o.log.error({ err, recording: id }, 'sidecar write failed') });
  const save = async (): Promise<boolean> => {
    meta.updatedAt = new Date().toISOString();
    return sidecar.write(meta);
  };
  const written = await finalizeRecording({
    id,
    meta,
    files,
    closed: [],
    pathOf: (f) => pathInside(o.dir, f),
    postProcessor: o.postProcessor,
    save,
    onProgress: () => undefined,
    steps: o.steps,
    recovered: true,
    beforeFinal: async () => o.marks?.begin(id).catch((err: unknown) => o.log.warn({ err, recording: id }, 'finalize mark not written')),
    stepFailed: (step, err) => o.log.error({ err, recording: id, step }, 'a step after finalization failed'),
  });
  return written;
}

/** Every file of the recording (inside the recordings folder) that is on disk, sidecar last. */
export function filesOf(id: string, meta: RecordingMetadata): string[] {
  const files: FileEntry[] = [meta.mix, ...(meta.stereo ? [meta.stereo] : []), ...meta.legs.flatMap((l) => l.stems)];
  return [...files.filter((f) => f.lost === undefined).map((f) => f.file), ...meta.postProcessed.map((p) => p.file), `${id}.json`];
}

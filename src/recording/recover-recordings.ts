// Recordings a process left unfinished (kill -9, power loss, an exit during
// finalization), repaired at the next start: every WAV's header is set to the
// whole sample frames present (a trailing partial frame is cut off), the sidecar
// gets its end, durations and sha256s, is marked `interrupted` when the
// recording itself was cut short, and becomes `finalized`. Temp files of
// sidecar writes are removed (the sidecar itself is always the last complete one), and so
// are those of key files (a kill while `<id>.key` was written or rotated).
// A stem on disk the sidecar does not name (an older Parley's kill between creating it and
// the sidecar naming it) is removed when it holds no audio, else kept; `errors` says which.
// WAVs that no sidecar names at all (every sidecar write of their recording failed) are
// adopted as a recording without metadata (adopt-orphans.ts).
// Post-processing cut short by a stop or a kill is resumed, also in a sidecar an older
// Parley wrote 'failed' for that reason (stopFailure). All file I/O is asynchronous:
// this runs while calls may already be up.
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { postProcessFiles, postProcessingUnfinished, runFinalizeSteps, type FinalizeStep } from './finalize-recording.ts';
import type { FinalizeMarks } from './finalize-marks.ts';
import { pathInside } from './file-names.ts';
import type { FileEntry, RecordingMetadata, TimePoint } from './metadata.ts';
import type { PostProcessor } from './post-processor.ts';
import { SidecarWriter } from './sidecar-writer.ts';
import { WAV_HEADER_BYTES } from './wav-disk-file.ts';
import { filesOf, finalizeRepaired, repairSealed, repairWav } from './repair-files.ts';
import { adoptOrphans } from './adopt-orphans.ts';
import { FILE_HEADER_BYTES } from './encryption/chunk-format.ts';
import type { Logger } from '../util/logger.ts';
import type { RecordingEncryption } from './encryption/recording-encryption.ts';
import { processAlive } from '../util/process-alive.ts';
import { holdsRecordingDir } from './dir-lock.ts';

export interface RecoveredRecording {
  id: string;
  meta: RecordingMetadata;
  /** Every file of the recording (inside the recordings folder), sidecar last. */
  files: string[];
}

export interface RecoverOptions {
  dir: string;
  /** Recordings this process has open or made: never touched. */
  isOurs: (id: string) => boolean;
  postProcessor?: PostProcessor;
  /** RecordingService.finalizeSteps: run for each recording finalized here too. */
  steps?: readonly FinalizeStep[];
  /** config recording.encryption: encrypted recordings are repaired with their data key (else left alone). */
  encryption?: RecordingEncryption | null;
  /** Recordings a process finalized but may not have signed, uploaded or reported: their steps run again. */
  marks?: FinalizeMarks;
  /** True once Parley is stopping: no further recording is started (the next start repairs it). */
  stopped?: () => boolean;
  log: Logger;
}

/** Finds and repairs the unfinished recordings in `dir`; one failure does not stop the others. */
export async function recoverRecordings(o: RecoverOptions): Promise<RecoveredRecording[]> {
  let names: string[];
  try {
    names = await readdir(o.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const sidecars = new Set(names.filter((n) => n.endsWith('.json')));
  for (const tmp of names.filter((n) => /\.json(\.\d+)?\.tmp$/.test(n))) {
    const main = tmp.replace(/(\.\d+)?\.tmp$/, '');
    if (o.isOurs(main.slice(0, -'.json'.length))) continue;
    await settleTemp(o, tmp, main, sidecars);
  }
  await removeKeyTemps(o, names);
  const marked = new Set(await o.marks?.list() ?? []);
  // Holding the folder's lock (app.ts takes it first; `.parley` is compliance's stateDir), no other
  // Parley writes here: a live process with a sidecar's pid got that pid after a reboot.
  const locked = await holdsRecordingDir(join(o.dir, '.parley'));
  const unencoded = o.postProcessor ? unencodedIds(names, sidecars) : new Set<string>();
  const out: RecoveredRecording[] = [];
  for (const name of sidecars) {
    const id = name.slice(0, -'.json'.length);
    if (o.isOurs(id)) continue;
    if (o.stopped?.()) {
      o.log.info({ repaired: out.length }, 'stopping: the recordings not checked yet are left to the next start');
      break;
    }
    // This recording's stem files on disk (looked for only when it is repaired: a few at each start).
    const stemFiles = (): string[] => names.filter((n) => /^\.leg\d+-[A-Za-z0-9._-]+\.wav$/.test(n.slice(id.length)) && n.startsWith(id) && ownerOf(n.slice(0, -'.wav'.length), sidecars) === id);
    try {
      const r = await recoverOne(o, id, marked.has(id), unencoded.has(id), locked, stemFiles);
      if (r) out.push(r);
    } catch (err) {
      o.log.error({ err, recording: id }, 'an interrupted recording could not be repaired');
    }
  }
  // WAVs no sidecar names at all (a recording whose every sidecar write failed): adopted (adopt-orphans.ts).
  if (!o.stopped?.()) out.push(...(await adoptOrphans(o, names, (file) => ownerOf(file.slice(0, -'.wav'.length), sidecars) !== null, locked)));
  return out;
}

/** A temp sidecar is removed, unless no sidecar exists: then a complete one becomes the sidecar. */
async function settleTemp(o: RecoverOptions, tmp: string, main: string, sidecars: Set<string>): Promise<void> {
  const tmpPath = pathInside(o.dir, tmp);
  if (!sidecars.has(main)) {
    try {
      JSON.parse(await readFile(tmpPath, 'utf8'));
      await rename(tmpPath, pathInside(o.dir, main));
      sidecars.add(main);
      return;
    } catch {
      o.log.warn({ file: tmp }, 'an incomplete sidecar temp file without its sidecar: removed');
    }
  }
  await rm(tmpPath, { force: true });
}

/**
 * `<id>.key.tmp`: writeKeyFile's temp file (written, synced, then renamed over `<id>.key`), left
 * by a kill before the rename. Nothing was sealed with the key it holds: a WAV is created only
 * after its key file is renamed in (WavDiskFile.open awaits the sealer's ready()); a rotation cut
 * short left `<id>.key` as it was. So it is removed, unless the recording is this process's or
 * the file was written since this process started (`parley recordings rotate-key`, which takes no
 * lock, may be running now).
 */
async function removeKeyTemps(o: RecoverOptions, names: string[]): Promise<void> {
  const startedAt = Date.now() - process.uptime() * 1000;
  for (const tmp of names.filter((n) => n.endsWith('.key.tmp'))) {
    const id = tmp.slice(0, -'.key.tmp'.length);
    const path = pathInside(o.dir, tmp);
    if (o.isOurs(id) || (await stat(path).then((s) => s.mtimeMs >= startedAt, () => true))) continue;
    await rm(path, { force: true });
    o.log.warn({ recording: id, file: tmp }, 'a key file temp a stopped process left: removed');
  }
}

/** `unencoded`: a WAV of the recording has no encoded copy (unencodedIds); `locked`: this process holds the folder's lock; `stemFiles`: its stems on disk. */
async function recoverOne(o: RecoverOptions, id: string, marked: boolean, unencoded: boolean, locked: boolean, stemFiles: () => string[]): Promise<RecoveredRecording | null> {
  const sidecarPath = pathInside(o.dir, `${id}.json`);
  const head = marked ? null : await headOf(sidecarPath, unencoded);
  if (head !== null && stateIn(head) === 'finalized' && !(head.whole && /"state":\s*"failed"/.test(head.text))) return null;
  const meta = JSON.parse(head?.whole ? head.text : await readFile(sidecarPath, 'utf8')) as RecordingMetadata;
  const cut = meta.state === 'finalized' && o.postProcessor !== undefined && stopFailure(meta) !== null;
  if (meta.version !== 1 || (meta.state === 'finalized' && !marked && !cut)) return null;
  // Finalized, failed and unmarked, it is no process's work any more (whatever now has its pid).
  const done = cut && !marked;
  if (!done && !locked && meta.pid !== undefined && meta.pid !== process.pid && processAlive(meta.pid)) {
    o.log.warn({ recording: id, pid: meta.pid }, 'an unfinished recording belongs to a running process: left alone');
    return null;
  }
  if (meta.state === 'finalized' && cut) {
    // Marked first, as a stop now leaves it: a stop during this encoding leaves it to the next start again.
    await o.marks?.begin(id).catch((err: unknown) => o.log.warn({ err, recording: id }, 'finalize mark not written'));
    meta.postProcessing.state = 'pending';
    o.log.info({ recording: id, error: meta.postProcessing.error }, "post-processing an older Parley's stop cut short ('failed'): resumed");
  }
  if (meta.state === 'finalized') return finishSteps(o, id, meta);
  const interrupted = meta.state === 'recording';
  const stems = meta.legs.flatMap((l) => l.stems);
  const files: FileEntry[] = [meta.mix, ...(meta.stereo ? [meta.stereo] : []), ...stems];
  if (meta.encryption) {
    // Unwrapped before anything is touched: without the right master key nothing is changed.
    if (!o.encryption) throw new Error(`recording ${id} is encrypted and recording.encryption is not configured: left as it is`);
    const key = await o.encryption.dataKey(o.dir, id);
    for (const f of files) await repairSealed(o, f, key, meta);
  } else {
    for (const f of files) await repairWav(o, f);
  }
  await settleUnnamedStems(o, id, meta, stemFiles());
  meta.durationMs = meta.mix.durationMs;
  if (interrupted) {
    const end = endOf(meta);
    meta.interrupted = true;
    meta.endedAt = end.at;
    for (const s of stems) s.end ??= end;
    for (const l of meta.legs) if (l.joins.length > l.leaves.length) l.leaves.push(end);
    for (const i of [...meta.pauses, ...meta.masks]) i.end ??= end;
    meta.errors.push('interrupted: the process stopped while recording; repaired at the next start');
  }
  const written = await finalizeRepaired(o, id, meta, files);
  // Its final sidecar not written (the disk still full): not signed nor reported now; the next start tries again.
  if (!written) o.log.error({ recording: id }, 'unfinished recording repaired, but its sidecar could not be written: left for the next start');
  else o.log.info({ recording: id, interrupted, durationMs: meta.durationMs }, 'unfinished recording repaired and finalized');
  return { id, meta, files: filesOf(id, meta) };
}

/**
 * A recording finalized by a process stopped before its steps and its report were
 * done (its mark is left): the steps run again (the same signature, the same upload
 * keys) and it is reported; a receiver may get its recording.saved a second time.
 */
async function finishSteps(o: RecoverOptions, id: string, meta: RecordingMetadata): Promise<RecoveredRecording> {
  if (postProcessingUnfinished(meta) && o.postProcessor) await resumePostProcessing(o, id, meta, o.postProcessor);
  await runFinalizeSteps({ id, meta, pathOf: (f) => pathInside(o.dir, f), recovered: true }, o.steps, (step, err) =>
    o.log.error({ err, recording: id, step }, 'a step after finalization failed'));
  o.log.info({ recording: id }, 'a recording finalized just before the process stopped: its steps done again and reported');
  return { id, meta, files: filesOf(id, meta) };
}

/**
 * Post-processing a stop or a kill cut short (its mark kept it): the files not encoded
 * yet go through the shared queue again (a `.part` left is replaced), the sidecar ends
 * 'done' with the outputs; the steps after it (signing, upload) then run on that sidecar.
 */
async function resumePostProcessing(o: RecoverOptions, id: string, meta: RecordingMetadata, pp: PostProcessor): Promise<void> {
  const sidecar = new SidecarWriter(pathInside(o.dir, `${id}.json`), { error: (err) => o.log.error({ err, recording: id }, 'sidecar write failed') });
  const save = async (): Promise<void> => {
    meta.updatedAt = new Date().toISOString();
    await sidecar.write(meta);
  };
  const files: FileEntry[] = [meta.mix, ...(meta.stereo ? [meta.stereo] : []), ...meta.legs.flatMap((l) => l.stems)];
  o.log.info({ recording: id, format: meta.postProcessing.format }, 'resuming post-processing interrupted by the last stop');
  await postProcessFiles({ meta, files, pathOf: (f) => pathInside(o.dir, f), save, onProgress: () => undefined }, pp);
  await save();
}

/**
 * Stems on disk the sidecar does not name: a Parley older than Stems.openWhenListed created a stem just
 * before the sidecar naming it, and a kill in between left it; today only a join whose sidecar write
 * failed (a full disk) followed by a kill does. One holding no audio (a header or less) is removed; one
 * with audio is kept as it is (its join time is not known, so it cannot be placed on the timeline), and
 * is not vouched for by the signature. Either is said in the sidecar's `errors`.
 */
async function settleUnnamedStems(o: RecoverOptions, id: string, meta: RecordingMetadata, onDisk: string[]): Promise<void> {
  const named = new Set(meta.legs.flatMap((l) => l.stems.map((s) => s.file)));
  const empty = meta.encryption ? FILE_HEADER_BYTES : WAV_HEADER_BYTES;
  for (const file of onDisk.filter((f) => !named.has(f))) {
    const path = pathInside(o.dir, file);
    const size = await stat(path).then((s) => s.size, () => -1);
    if (size < 0) continue;
    if (size <= empty) await rm(path, { force: true });
    const note = size <= empty ? `${file}: a stem the sidecar did not name when the process stopped, holding no audio: removed` : `${file}: a stem the sidecar did not name when the process stopped (${size} bytes): kept as it is, not listed nor signed`;
    o.log.warn({ recording: id, file, size }, note);
    meta.errors.push(note);
  }
}


/**
 * When the recording stopped, from what it wrote: the latest of the start plus
 * the mix (plus the pauses it left out) and each stem's start plus its length.
 */
function endOf(meta: RecordingMetadata): TimePoint {
  const t0 = Date.parse(meta.startedAt);
  let endMs = t0 + meta.mix.durationMs;
  if (meta.pauseMode === 'skip') {
    for (const p of meta.pauses) if (p.end) endMs += Date.parse(p.end.at) - Date.parse(p.start.at);
  }
  for (const l of meta.legs) for (const s of l.stems) endMs = Math.max(endMs, Date.parse(s.start.at) + s.durationMs);
  const roomMs = meta.startRoomMs === null ? null : meta.startRoomMs + (endMs - t0);
  return { roomMs, fileMs: meta.mix.durationMs, at: new Date(endMs).toISOString() };
}

/**
 * The start of a sidecar: 512 bytes, enough for its `state` (SidecarWriter writes it
 * among the first keys), so that a folder of finished recordings costs one small read
 * each at start, not a parse; the whole file (`whole`) when it may show post-processing
 * a stop cut short (`unencoded`: a WAV of it has no encoded copy), which is near the end.
 */
async function headOf(path: string, unencoded = false): Promise<{ text: string; whole: boolean }> {
  if (unencoded) return { text: await readFile(path, 'utf8'), whole: true };
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return { text: buf.toString('utf8', 0, bytesRead), whole: bytesRead < buf.length };
  } finally {
    await fh.close();
  }
}

/** The sidecar's state, from its start (null when it is not found there). */
function stateIn(head: { text: string } | null): string | null {
  return head === null ? null : (/"state":\s*"(\w+)"/.exec(head.text)?.[1] ?? null);
}

/**
 * Messages of post-processing that a stop or a kill ended, which a Parley older than
 * PostProcessorClosedError wrote as state 'failed': its queue closed ('post-processor
 * closed', 'post-processor is closed'), or its ffmpeg killed (by the stop's abort, or a
 * signal to the process group). A real encoder failure ('ffmpeg exited with code 1: …',
 * an ffprobe error) is none of these and stays 'failed'.
 */
const STOP_FAILURES = [/^post-processor (is )?closed$/, /^ffmpeg failed: ffmpeg was killed with signal SIG[A-Z]+$/, /^aborted before start$/];

/** The error of a 'failed' post-processing that a stop or a kill caused (STOP_FAILURES); else null. */
function stopFailure(meta: RecordingMetadata): string | null {
  const p = meta.postProcessing;
  if (p.format === 'none' || p.state !== 'failed' || p.error === null) return null;
  return STOP_FAILURES.some((r) => r.test(p.error!)) ? p.error : null;
}

/**
 * The recordings (ids of `sidecars`) with a WAV that has no encoded copy (`<file>.ogg` or
 * `.mp3` beside it), from the folder's listing: only their sidecars are read whole at start.
 */
function unencodedIds(names: string[], sidecars: Set<string>): Set<string> {
  const present = new Set(names);
  const ids = new Set<string>();
  for (const n of names) {
    if (!n.endsWith('.wav')) continue;
    const base = n.slice(0, -'.wav'.length);
    if (present.has(`${base}.ogg`) || present.has(`${base}.mp3`)) continue;
    const id = ownerOf(base, sidecars);
    if (id !== null) ids.add(id);
  }
  return ids;
}

/** `<id>.mix`, `<id>.stereo`, `<id>.leg<n>-<leg>`: the id is the longest prefix before a dot that has a sidecar (null: none). */
function ownerOf(base: string, sidecars: Set<string>): string | null {
  for (let i = base.lastIndexOf('.'); i > 0; i = base.lastIndexOf('.', i - 1)) {
    if (sidecars.has(`${base.slice(0, i)}.json`)) return base.slice(0, i);
  }
  return null;
}


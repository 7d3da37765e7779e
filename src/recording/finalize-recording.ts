// What happens after a Recorder closed, off the media path: wait until every file
// descriptor is closed, hash each file into the sidecar (or take the hash its writer
// made as it closed the file), then post-process each
// file through the shared queue (one ffmpeg at a time), recording the results.
// Never throws for a post-processing failure: the sidecar says what failed. Post-
// processing cut short by a stop or a kill stays 'pending' and is resumed at the
// next start (recover-recordings.ts), skipping the files already encoded.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FileEntry, PostProcessedEntry, RecordingMetadata } from './metadata.ts';
import type { Logger } from '../util/logger.ts';
import { sha256File } from '../util/sha256-file.ts';
import { PostProcessorClosedError, type PostProcessor, type PostProgress } from './post-processor.ts';

/** A finalized recording, as the steps that run after finalization see it. */
export interface FinalizedRecording {
  id: string;
  /** The sidecar as written (state 'finalized'); a step that changes it saves it itself. */
  meta: RecordingMetadata;
  pathOf: (file: string) => string;
  /** Finalized at start from what an earlier process left (recover-recordings.ts). */
  recovered: boolean;
}

/**
 * Runs after a recording is finalized, in the order of RecordingService.finalizeSteps
 * (e.g. sign, then encrypt/upload). Keep it short: 'finalized' (recording.saved) waits for it;
 * long work is queued by the step. A step that throws is logged; the next ones still run.
 */
export interface FinalizeStep {
  readonly name: string;
  run(r: FinalizedRecording): Promise<void>;
}

export interface FinalizeContext {
  id: string;
  meta: RecordingMetadata;
  files: FileEntry[];
  /** Resolve when each writer's descriptor is closed. */
  closed: Promise<void>[];
  /** sha256 by file name, made by the writers as they completed the files; the others are read and hashed. */
  hashes?: ReadonlyMap<string, string>;
  pathOf: (file: string) => string;
  postProcessor: PostProcessor | undefined;
  /** Persists `meta` (the sidecar); resolves when it is written (or its failure reported: false). */
  save: () => Promise<boolean | void>;
  onProgress: (p: PostProgress) => void;
  steps?: readonly FinalizeStep[];
  recovered?: boolean;
  stepFailed?: (step: string, err: Error) => void;
  /** Awaited just before the final sidecar is written (finalize-marks.ts: the mark of the window after it). */
  beforeFinal?: () => Promise<void>;
}

/**
 * Resolves true once the final sidecar is on disk and the steps ran; false when that sidecar
 * could not be written (a full disk): the steps (signature, audit, upload) must not vouch for
 * a sidecar that is not there, so they wait for a later write (Recorder) or the next start.
 */
export async function finalizeRecording(c: FinalizeContext): Promise<boolean> {
  await Promise.all(c.closed);
  for (const e of c.files) if (e.lost === undefined) e.sha256 = c.hashes?.get(e.file) ?? (await sha256File(c.pathOf(e.file)));
  // A SIPREC session's metadata versions (null and `lost`: the file was never written: a full disk, a crash).
  for (const v of c.meta.siprec?.metadataVersions ?? []) {
    v.sha256 = await (async () => sha256File(c.pathOf(v.file)))().catch(() => null);
    if (v.sha256 === null) {
      v.lost ??= 'not on disk: its write failed (a full disk) or the process stopped first';
      // The version's problem says it too: `problem: null` next to `lost` read as a version kept and read fine.
      v.problem ??= `not kept: ${v.lost}`;
      const note = `metadata version ${v.file} ${v.problem}`;
      const problems = c.meta.siprec!.problems;
      if (Array.isArray(problems) && !problems.includes(note)) problems.push(note);
    }
  }
  if (c.meta.postProcessing.format !== 'none' && c.postProcessor) {
    // The hashes are saved before post-processing, which can take long; without it the
    // 'finalized' sidecar below is the next write (a crash in between is recovered).
    await c.save();
    await postProcessFiles(c, c.postProcessor);
  }
  await c.beforeFinal?.();
  c.meta.state = 'finalized';
  if ((await c.save()) === false) return false;
  await runFinalizeSteps({ id: c.id, meta: c.meta, pathOf: c.pathOf, recovered: c.recovered ?? false }, c.steps, c.stepFailed);
  return true;
}

/**
 * Encodes each file not encoded yet (an entry in `postProcessed` whose output is on
 * disk counts as encoded: a resumed run skips it) and records the results. The state
 * ends 'done', 'failed' (the encoder failed: not retried), or stays 'pending' when
 * Parley stopped meanwhile (PostProcessorClosedError): the next start resumes it.
 */
export async function postProcessFiles(c: Pick<FinalizeContext, 'meta' | 'files' | 'pathOf' | 'save' | 'onProgress'>, postProcessor: PostProcessor): Promise<void> {
  const format = c.meta.postProcessing.format;
  if (format === 'none') return;
  const kept: PostProcessedEntry[] = [];
  for (const p of c.meta.postProcessed) if (await exists(c.pathOf(p.file))) kept.push(p);
  c.meta.postProcessed = kept;
  c.meta.postProcessing.state = 'pending';
  c.meta.postProcessing.error = null;
  await c.save();
  try {
    for (const e of c.files) {
      if (e.durationMs === 0 || e.lost !== undefined || kept.some((p) => p.source === e.file)) continue;
      const r = await postProcessor.enqueue({ input: c.pathOf(e.file), format, inputDurationMs: e.durationMs, onProgress: c.onProgress });
      c.meta.postProcessed.push({ source: e.file, file: basename(r.output), format, durationMs: Math.round(r.durationMs), sha256: r.sha256 });
      await c.save();
    }
    c.meta.postProcessing.state = 'done';
  } catch (err) {
    c.meta.postProcessing.error = (err as Error).message;
    if (!(err instanceof PostProcessorClosedError)) c.meta.postProcessing.state = 'failed';
  }
}

/** Post-processing interrupted by a stop (or a kill): the next start resumes it. */
export function postProcessingUnfinished(meta: RecordingMetadata): boolean {
  return meta.postProcessing.format !== 'none' && meta.postProcessing.state === 'pending';
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** A step's failure, logged for recording `id`. */
export function stepLogger(log: Logger, id: string): (step: string, err: Error) => void {
  return (step, err) => log.error({ err, recording: id, step }, 'a step after finalization failed');
}

/** The steps after finalization, in order; one that throws is reported and the next ones still run. */
export async function runFinalizeSteps(done: FinalizedRecording, steps: readonly FinalizeStep[] | undefined, stepFailed?: (step: string, err: Error) => void): Promise<void> {
  for (const step of steps ?? []) {
    try {
      await step.run(done);
    } catch (err) {
      stepFailed?.(step.name, err as Error);
    }
  }
}

// What happens after a Recorder closed, off the media path: wait until every file
// descriptor is closed, hash each file into the sidecar, then post-process each
// file through the shared queue (one ffmpeg at a time), recording the results.
// Never throws for a post-processing failure: the sidecar says what failed.
import { basename } from 'node:path';
import type { FileEntry, RecordingMetadata } from './metadata.ts';
import { sha256File } from '../util/sha256-file.ts';
import type { PostProcessor, PostProgress } from './post-processor.ts';

export interface FinalizeContext {
  meta: RecordingMetadata;
  files: FileEntry[];
  /** Resolve when each writer's descriptor is closed. */
  closed: Promise<void>[];
  pathOf: (file: string) => string;
  postProcessor: PostProcessor | undefined;
  /** Persists `meta` (the sidecar); resolves when it is written (or its failure reported). */
  save: () => Promise<void>;
  onProgress: (p: PostProgress) => void;
}

export async function finalizeRecording(c: FinalizeContext): Promise<void> {
  await Promise.all(c.closed);
  for (const e of c.files) if (e.lost === undefined) e.sha256 = await sha256File(c.pathOf(e.file));
  await c.save();
  const format = c.meta.postProcessing.format;
  if (format !== 'none' && c.postProcessor) {
    c.meta.postProcessing.state = 'pending';
    await c.save();
    try {
      for (const e of c.files) {
        if (e.durationMs === 0 || e.lost !== undefined) continue;
        const r = await c.postProcessor.enqueue({
          input: c.pathOf(e.file),
          format,
          inputDurationMs: e.durationMs,
          onProgress: c.onProgress,
        });
        c.meta.postProcessed.push({
          source: e.file,
          file: basename(r.output),
          format,
          durationMs: Math.round(r.durationMs),
          sha256: r.sha256,
        });
        await c.save();
      }
      c.meta.postProcessing.state = 'done';
    } catch (err) {
      c.meta.postProcessing.state = 'failed';
      c.meta.postProcessing.error = (err as Error).message;
    }
  }
  c.meta.state = 'finalized';
  await c.save();
}

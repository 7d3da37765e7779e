// Post-processing of closed recordings (WAV → Ogg/Opus or MP3) off the media
// path: one queue, one ffmpeg at a time, so that encoding never competes with
// the mixers for more than one core. Progress is reported per job.
import { rename, rm } from 'node:fs/promises';
import { encodeRecording, probeDurationMs, type EncodeFormat } from '../playback/ffmpeg.ts';
import type { Logger } from '../util/logger.ts';
import { sha256File } from '../util/sha256-file.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';

export interface PostJob {
  input: string;
  format: EncodeFormat;
  /** Duration of the input, for the percentage. */
  inputDurationMs: number;
  onProgress?: (p: PostProgress) => void;
}

export interface PostProgress {
  input: string;
  format: EncodeFormat;
  percent: number;
  processedMs: number;
}

export interface PostResult {
  input: string;
  output: string;
  format: EncodeFormat;
  durationMs: number;
  sha256: string;
  elapsedMs: number;
}

/**
 * A job dropped or killed because the queue was closed (Parley stopping): not the
 * encoder's fault. The recording's post-processing stays 'pending' and the next
 * start resumes it (finalize-recording.ts, recover-recordings.ts).
 */
export class PostProcessorClosedError extends Error {
  constructor() {
    super('interrupted: Parley stopped during post-processing; the next start resumes it');
    this.name = 'PostProcessorClosedError';
  }
}

export type PostProcessorEvents = {
  progress: [PostProgress];
  done: [PostResult];
  failed: [{ input: string; format: EncodeFormat; error: Error }];
};

interface Queued {
  job: PostJob;
  resolve: (r: PostResult) => void;
  reject: (e: Error) => void;
}

export class PostProcessor extends TypedEmitter<PostProcessorEvents> {
  private readonly queue: Queued[] = [];
  private running: Queued | null = null;
  private abort: AbortController | null = null;
  private closed = false;

  /** `readRate`: config recording.postProcessReadRate (0: as fast as ffmpeg can). */
  constructor(
    private readonly log: Logger,
    private readonly readRate = 0,
  ) {
    super(log);
  }

  /** Jobs waiting or running. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  enqueue(job: PostJob): Promise<PostResult> {
    if (this.closed) return Promise.reject(new PostProcessorClosedError());
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.next();
    });
  }

  /** Kills the running ffmpeg and rejects every queued job. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort?.abort();
    for (const q of this.queue.splice(0)) q.reject(new PostProcessorClosedError());
  }

  private next(): void {
    if (this.running || this.closed) return;
    const item = this.queue.shift();
    if (!item) return;
    this.running = item;
    this.abort = new AbortController();
    this.run(item.job, this.abort.signal).then(
      (r) => {
        this.safeEmit('done', r);
        item.resolve(r);
      },
      (err: unknown) => {
        // An ffmpeg killed by close() is an interruption, not an encoder failure.
        const error = this.closed ? new PostProcessorClosedError() : err instanceof Error ? err : new Error(String(err));
        if (this.closed) return item.reject(error);
        this.log.warn({ err: error, input: item.job.input }, 'post-processing failed');
        this.safeEmit('failed', { input: item.job.input, format: item.job.format, error });
        item.reject(error);
      },
    ).finally(() => {
      this.running = null;
      this.abort = null;
      this.next();
    });
  }

  private async run(job: PostJob, signal: AbortSignal): Promise<PostResult> {
    const t0 = performance.now();
    const output = job.input.replace(/\.wav$/i, '') + (job.format === 'ogg' ? '.ogg' : '.mp3');
    const part = `${output}.part`;
    const report = (processedMs: number, percent: number): void => {
      const p: PostProgress = { input: job.input, format: job.format, processedMs, percent };
      this.safeEmit('progress', p);
      try {
        job.onProgress?.(p);
      } catch (err) {
        this.log.error({ err }, 'progress callback threw');
      }
    };
    try {
      // Encoded under a temp name, renamed when complete: a kill mid-encode leaves at most a
      // `.part` (replaced when the next start resumes), never a half-written output.
      await rm(part, { force: true });
      await encodeRecording(job.input, part, job.format, job.inputDurationMs, (p) => {
        if (p.percent !== null) report(p.processedMs, p.percent);
      }, signal, this.readRate);
      await rename(part, output);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
    report(job.inputDurationMs, 100);
    const [durationMs, sha256] = await Promise.all([probeDurationMs(output), sha256File(output)]);
    return { input: job.input, output, format: job.format, durationMs, sha256, elapsedMs: performance.now() - t0 };
  }
}



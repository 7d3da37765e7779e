// The only module that imports fluent-ffmpeg (archived upstream in 2025): the
// rest of Parley calls these three functions, so replacing the package means
// rewriting this file only. ffmpeg and ffprobe come from Debian.
import ffmpeg from 'fluent-ffmpeg';

export interface TranscodeProgress {
  /** Milliseconds of output produced so far (ffmpeg's `time=`). */
  processedMs: number;
  /** 0..100 when the input duration is known, else null. */
  percent: number | null;
}

export class FfmpegError extends Error {
  constructor(
    message: string,
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = 'FfmpegError';
  }
}

/** Any audio ffmpeg can read → mono (or `channels`) signed 16-bit WAV at `sampleRate`. */
export function transcodeToWav(input: string, output: string, sampleRate: number, channels = 1): Promise<void> {
  return run(
    ffmpeg(input)
      .noVideo()
      .audioChannels(channels)
      .audioFrequency(sampleRate)
      .audioCodec('pcm_s16le')
      // No LIST/INFO chunk and no encoder tag: a plain 44-byte header, stable bytes.
      .outputOptions(['-map_metadata', '-1', '-fflags', '+bitexact', '-flags:a', '+bitexact'])
      .format('wav'),
    output,
  );
}

export type EncodeFormat = 'ogg' | 'mp3';

/** A recording (WAV) → Opus in Ogg, or MP3, with progress callbacks every ~100 ms of wall time. */
export function encodeRecording(
  input: string,
  output: string,
  format: EncodeFormat,
  inputDurationMs: number,
  onProgress?: (p: TranscodeProgress) => void,
  signal?: AbortSignal,
  readRate = 0,
): Promise<void> {
  const cmd = ffmpeg(input).noVideo().outputOptions(['-stats_period', '0.1', '-map_metadata', '-1']);
  // At most readRate × real time (ffmpeg -readrate): a gentler encoder on a busy host.
  if (readRate > 0) cmd.inputOptions(['-readrate', String(readRate)]);
  if (format === 'ogg') cmd.audioCodec('libopus').audioBitrate('32k').format('ogg');
  else cmd.audioCodec('libmp3lame').audioBitrate('48k').format('mp3');
  if (signal) {
    if (signal.aborted) return Promise.reject(new FfmpegError('aborted before start', ''));
    signal.addEventListener('abort', () => cmd.kill('SIGKILL'), { once: true });
  }
  return run(cmd, output, inputDurationMs, onProgress);
}

/** Duration in milliseconds as ffprobe reads it from the container. */
export function probeDurationMs(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    ffmpeg.ffprobe(file, (err: unknown, data) => {
      if (err) return reject(new FfmpegError(`ffprobe failed on ${file}: ${String(err)}`, ''));
      const d = Number(data.format.duration);
      if (!Number.isFinite(d)) return reject(new FfmpegError(`ffprobe: no duration for ${file}`, ''));
      resolve(d * 1000);
    });
  });
}

function run(
  cmd: ffmpeg.FfmpegCommand,
  output: string,
  durationMs?: number,
  onProgress?: (p: TranscodeProgress) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    cmd
      .on('progress', (p: { timemark?: string }) => {
        if (!onProgress || typeof p.timemark !== 'string') return;
        const processedMs = timemarkToMs(p.timemark);
        const percent = durationMs && durationMs > 0 ? Math.min(100, (processedMs / durationMs) * 100) : null;
        onProgress({ processedMs, percent });
      })
      .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
        const tail = (stderr ?? '').split('\n').slice(-6).join('\n');
        reject(new FfmpegError(`ffmpeg failed: ${err.message}`, tail));
      })
      .on('end', () => resolve())
      .save(output);
  });
}

function timemarkToMs(mark: string): number {
  const m = /^(-?\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(mark.trim());
  if (!m) return 0;
  return Math.max(0, Math.round((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000));
}

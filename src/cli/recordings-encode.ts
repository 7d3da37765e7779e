// `parley recordings encode ID --format ogg|mp3`: encodes a finished recording's
// WAV files (mix, stereo, stems) offline with the server's PostProcessor, with a
// progress bar, and adds the results to its sidecar's `postProcessed` (so the
// API lists and serves them). Works on recording.dir directly: no server needed.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { ParleyConfig } from '../config/schema.ts';
import { pathInside } from '../recording/file-names.ts';
import type { FileEntry, RecordingMetadata } from '../recording/metadata.ts';
import { PostProcessor } from '../recording/post-processor.ts';
import { createLogger } from '../util/logger.ts';
import { CliError } from './cli-error.ts';
import { ProgressBar } from './progress-bar.ts';

export async function encodeRecordingFiles(config: ParleyConfig, id: string, format: 'ogg' | 'mp3', out: NodeJS.WriteStream = process.stderr): Promise<string[]> {
  const dir = config.recording.dir;
  let sidecar: string;
  let meta: RecordingMetadata;
  try {
    sidecar = pathInside(dir, `${id}.json`);
    meta = JSON.parse(readFileSync(sidecar, 'utf8')) as RecordingMetadata;
  } catch {
    throw new CliError(`no recording '${id}' in ${dir}`);
  }
  if (meta.state === 'recording') throw new CliError(`recording '${id}' is still in progress`);
  if (meta.encryption) throw new CliError(`recording '${id}' is encrypted at rest: encoding it would leave its audio in plaintext (decrypt a copy with \`parley recordings decrypt\` where plaintext may be)`);
  const files = [meta.mix, meta.stereo, ...meta.legs.flatMap((l) => l.stems)].filter((f): f is FileEntry => f !== null && f.durationMs > 0);
  const totalMs = files.reduce((n, f) => n + f.durationMs, 0);
  const bar = new ProgressBar(100, out);
  const pp = new PostProcessor(createLogger({ level: 'silent', pretty: false }));
  const made: string[] = [];
  let doneMs = 0;
  try {
    for (const f of files) {
      const r = await pp.enqueue({
        input: pathInside(dir, f.file),
        format,
        inputDurationMs: f.durationMs,
        onProgress: (p) => bar.update((doneMs + (p.percent / 100) * f.durationMs) / totalMs, f.file),
      });
      doneMs += f.durationMs;
      const file = basename(r.output);
      made.push(file);
      meta.postProcessed = meta.postProcessed.filter((p) => p.file !== file);
      meta.postProcessed.push({ source: f.file, file, format, durationMs: Math.round(r.durationMs), sha256: r.sha256 });
    }
  } finally {
    bar.finish();
    pp.close();
  }
  meta.postProcessing = { format, state: 'done', error: null };
  meta.updatedAt = new Date().toISOString();
  writeFileSync(`${sidecar}.tmp`, JSON.stringify(meta, null, 2) + '\n');
  renameSync(`${sidecar}.tmp`, sidecar);
  return made;
}

// `parley recordings encode ID --format ogg|mp3`: encodes a finished recording's
// WAV files (mix, stereo, stems) offline with the server's PostProcessor, with a
// progress bar, and lists the results in `<id>.json.encoded` (derived-files.ts: the
// API lists and serves them, verify checks them, a delete removes them). The signed
// sidecar is left as it is, so the recording still verifies. Works on recording.dir
// directly: no server needed.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { ParleyConfig } from '../config/schema.ts';
import { pathInside } from '../recording/file-names.ts';
import { derivedListFile, readDerived, type DerivedFile, type DerivedList } from '../recording/derived-files.ts';
import type { FileEntry, RecordingMetadata } from '../recording/metadata.ts';
import { PostProcessor } from '../recording/post-processor.ts';
import { createLogger } from '../util/logger.ts';
import { CliError } from './cli-error.ts';
import { ProgressBar } from './progress-bar.ts';

export async function encodeRecordingFiles(config: ParleyConfig, id: string, format: 'ogg' | 'mp3', out: NodeJS.WriteStream = process.stderr): Promise<string[]> {
  const dir = config.recording.dir;
  let meta: RecordingMetadata;
  try {
    meta = JSON.parse(readFileSync(pathInside(dir, `${id}.json`), 'utf8')) as RecordingMetadata;
  } catch {
    throw new CliError(`no recording '${id}' in ${dir}`);
  }
  if (meta.state === 'recording') throw new CliError(`recording '${id}' is still in progress`);
  if (meta.encryption) throw new CliError(`recording '${id}' is encrypted at rest: encoding it would leave its audio in plaintext (decrypt a copy with \`parley recordings decrypt\` where plaintext may be)`);
  let derived: DerivedFile[];
  try {
    derived = await readDerived(dir, id);
  } catch (err) {
    throw new CliError(`recording '${id}': ${derivedListFile(id)} cannot be read (${(err as Error).message}); move it away to encode again`);
  }
  // What the server already encoded in this format is signed: encoding it again would replace a signed file.
  const signed = new Set((meta.postProcessed ?? []).filter((p) => p.format === format).map((p) => p.source));
  const files = [meta.mix, meta.stereo, ...meta.legs.flatMap((l) => l.stems)].filter((f): f is FileEntry => f !== null && f.durationMs > 0 && !signed.has(f.file));
  if (files.length === 0) {
    throw new CliError(signed.size > 0 ? `recording '${id}': its files are already encoded to ${format} (its sidecar lists them in postProcessed)` : `recording '${id}' has no audio to encode`);
  }
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
      derived = derived.filter((p) => p.file !== file);
      derived.push({ source: f.file, sourceSha256: f.sha256 ?? null, file, format, durationMs: Math.round(r.durationMs), sha256: r.sha256, madeAt: new Date().toISOString() });
    }
  } finally {
    bar.finish();
    pp.close();
  }
  const list: DerivedList = { version: 1, recording: id, files: derived };
  const path = pathInside(dir, derivedListFile(id));
  writeFileSync(`${path}.tmp`, JSON.stringify(list, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
  return made;
}

// Files made from a finalized recording after it was signed (`parley recordings
// encode`): listed in `<id>.json.encoded` beside the sidecar, never in the sidecar
// itself, whose signature and `finalized` audit entry must keep verifying. Each
// entry names the signed file it was made from with that file's sha256, and its
// own sha256: verify checks both (a derived file is vouched for by this list, not
// by the signature), the API lists and serves them, a delete removes them.
import { readFile } from 'node:fs/promises';
import type { PostProcessedEntry, RecordingMetadata } from './metadata.ts';
import { pathInside } from './file-names.ts';

export interface DerivedFile {
  /** The signed file it was made from. */
  source: string;
  /** That file's sha256 as the signed sidecar lists it. */
  sourceSha256: string | null;
  file: string;
  format: 'ogg' | 'mp3';
  durationMs: number;
  sha256: string;
  madeAt: string;
}

export interface DerivedList {
  version: 1;
  recording: string;
  files: DerivedFile[];
}

export function derivedListFile(id: string): string {
  return `${id}.json.encoded`;
}

/** The derived files of a recording (none when it has no list; a list that is not one: thrown). */
export async function readDerived(dir: string, id: string): Promise<DerivedFile[]> {
  let text: string;
  try {
    text = await readFile(pathInside(dir, derivedListFile(id)), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseDerived(id, text);
}

export function parseDerived(id: string, text: string): DerivedFile[] {
  const list = JSON.parse(text) as DerivedList;
  if (list?.version !== 1 || list.recording !== id || !Array.isArray(list.files)) throw new Error(`${derivedListFile(id)} is not this recording's list of derived files`);
  return list.files.filter((f) => f && typeof f.file === 'string' && typeof f.source === 'string');
}

/** The recording's metadata as the API shows it: the derived files added to `postProcessed` (marked `derived`). */
export function withDerived(m: RecordingMetadata, derived: DerivedFile[]): RecordingMetadata {
  if (derived.length === 0) return m;
  const listed = new Set((m.postProcessed ?? []).map((p) => p.file));
  const extra = derived.filter((d) => !listed.has(d.file)).map((d): PostProcessedEntry => ({ source: d.source, file: d.file, format: d.format, durationMs: d.durationMs, sha256: d.sha256, derived: true }));
  return { ...m, postProcessed: [...(m.postProcessed ?? []), ...extra] };
}

// Recordings without a sidecar, adopted at the next start. A recording's first sidecar write can fail
// (a full disk) while its WAVs are created all the same (the Recorder keeps the audio whether that
// write succeeded or not), and its key file when it is encrypted; a kill, or a disk full until a
// crash, then leaves WAVs that no sidecar names, which the repair of sidecars (recover-recordings.ts)
// never looks at: audio on disk that the API, the index, retention and verify do not know.
// File names hold the recording id and the part (file-names.ts recordingFileParts), so the files of
// one id become a recording again, with a sidecar made from what they say: names, durations, sample
// rate, channels (their headers repaired as any repair does, then hashed and signed), the start (to the
// second) and the room (as its file-safe name) from the id. The rest is not known: `errors` says so and
// the sidecar is marked `recoveredWithoutMetadata`.
// Only under the folder's lock (dir-lock.ts: no other Parley writes here), and never a recording of
// this process (isOurs): a live recorder whose sidecar writes fail is in just this state. An encrypted
// one is adopted only when its data key unwraps (else left untouched: a start with the right master key
// adopts it). A key file without WAVs (a deleted recording's, see rotate-keys.ts) is left alone.
import { open } from 'node:fs/promises';
import { pathInside, recordingFileParts, roomOfRecordingId, startOfRecordingId, type RecordingFilePart } from './file-names.ts';
import type { FileEntry, LegEntry, RecordingMetadata, StemEntry } from './metadata.ts';
import type { RecoveredRecording, RecoverOptions } from './recover-recordings.ts';
import { filesOf, finalizeRepaired, repairSealed, repairWav } from './repair-files.ts';
import { WAV_HEADER_BYTES } from './wav-disk-file.ts';
import { FILE_HEADER_BYTES, MAGIC, parseFileHeader } from './encryption/chunk-format.ts';
import { KEY_SCHEME, keyFileName } from './encryption/key-file.ts';

interface OrphanFile {
  file: string;
  part: RecordingFilePart;
}

/** What a file's first bytes say: a Parley WAV or sealed file's channels and rate (null: too short to tell). */
interface FileHead {
  sealed: boolean;
  channels: number;
  sampleRate: number;
}

/** Written into the sidecar of every adopted recording. */
const UNKNOWN = [
  'recovered without metadata: no sidecar of this recording was ever written (its writes failed: a full disk) before the process stopped; this one was made at the next start from its files alone',
  'known from the files: their names, sizes, durations, sample rate and channels; from the recording id: the start (to the second) and the room (as its file-safe name, at most 48 characters); from the stem names: the legs (as their file-safe ids) and the order of their stems',
  "not known: the room's own id, when the recording ended (shown as the start plus its longest file), the legs' URIs, names, Call-IDs, original To and roles (all shown 'other'), their joins and leaves, where each stem starts on the recording's timeline (shown at the start), holds, notices played, pauses and masks (pauseMode shows the default), transfers, flow, rule, retention (recording.retention.days applies) and post-processing (none done)",
];

/**
 * Finds the WAVs in `names` that no sidecar owns (`owned`) and adopts each recording they make up
 * (see above); one failure does not stop the others. `locked`: this process holds the folder's lock.
 */
export async function adoptOrphans(o: RecoverOptions, names: string[], owned: (file: string) => boolean, locked: boolean): Promise<RecoveredRecording[]> {
  const groups = orphansOf(names, owned);
  if (groups.size === 0) return [];
  if (!locked) {
    // Without the lock another Parley may be writing them now (its first sidecar refused by a full disk).
    o.log.warn({ recordings: [...groups.keys()] }, 'WAVs without a sidecar left alone: this process does not hold the folder\'s lock');
    return [];
  }
  const present = new Set(names);
  const out: RecoveredRecording[] = [];
  for (const [id, files] of groups) {
    if (o.isOurs(id)) continue;
    if (o.stopped?.()) break;
    try {
      const siprec = names.filter((n) => n.startsWith(`${id}.metadata-`) && n.endsWith('.xml'));
      const r = await adoptOne(o, id, files, present.has(keyFileName(id)), siprec);
      if (r) out.push(r);
    } catch (err) {
      o.log.error({ err, recording: id, files: files.map((f) => f.file) }, 'WAVs without a sidecar could not be adopted: left as they are');
    }
  }
  return out;
}

/**
 * The WAVs no sidecar owns, by the recording id their names hold. A name that reads several ways (a room or
 * leg id that looks like an id's end) goes to the shortest id with a mix file there (a mix's own reading counts),
 * else with a key file, else its first reading.
 */
export function orphansOf(names: string[], owned: (file: string) => boolean): Map<string, OrphanFile[]> {
  const present = new Set(names);
  const groups = new Map<string, OrphanFile[]>();
  for (const file of names) {
    if (!file.endsWith('.wav') || owned(file)) continue;
    const parts = recordingFileParts(file);
    const part = parts.find((p) => present.has(`${p.id}.mix.wav`)) ?? parts.find((p) => present.has(keyFileName(p.id))) ?? parts[0];
    if (!part || present.has(`${part.id}.json`)) continue;
    const list = groups.get(part.id) ?? [];
    list.push({ file, part });
    groups.set(part.id, list);
  }
  return groups;
}

/** `siprec`: the recording's SIPREC metadata versions on disk (Recorder.writeCompanion writes them whatever the sidecar's fate). */
async function adoptOne(o: RecoverOptions, id: string, files: OrphanFile[], hasKey: boolean, siprec: string[]): Promise<RecoveredRecording | null> {
  const started = startOfRecordingId(id);
  if (!started) throw new Error(`${id}: not a recording id (no start time in it)`);
  const heads = await Promise.all(files.map((f) => headOf(pathInside(o.dir, f.file))));
  const sealed = hasKey || heads.some((h) => h?.sealed === true);
  const rates = new Set<number>();
  files.forEach((f, i) => {
    const h = heads[i];
    if (!h) return;
    if (h.sealed !== sealed) throw new Error(`${f.file}: ${h.sealed ? 'sealed' : 'a plain WAV'}, and the recording's other files are not`);
    if (h.channels !== (f.part.kind === 'stereo' ? 2 : 1)) throw new Error(`${f.file}: ${h.channels} channels: not a file Parley wrote under that name`);
    rates.add(h.sampleRate);
  });
  if (rates.size > 1) throw new Error(`its files disagree on the sample rate (${[...rates].join(', ')} Hz)`);
  const [sampleRate] = rates;
  if (sampleRate === undefined) {
    // Nothing but files cut inside their header: no audio, and not even its rate is known.
    o.log.warn({ recording: id, files: files.map((f) => f.file) }, 'WAVs without a sidecar holding no complete header: left as they are');
    return null;
  }
  const meta = metadataOf(id, started, sampleRate, files, sealed);
  // The sidecar's siprec section (participants, streams, versions) cannot be rebuilt from them without reading the XML as the session did.
  for (const f of siprec) meta.errors.push(`${f}: a SIPREC metadata version of this recording: kept as it is, not listed nor signed`);
  const entries: FileEntry[] = [meta.mix, ...(meta.stereo ? [meta.stereo] : []), ...meta.legs.flatMap((l) => l.stems)];
  const onDisk = entries.filter((e) => e.lost === undefined);
  if (sealed) {
    // Unwrapped before anything is touched: without the right master key nothing is changed.
    if (!o.encryption) throw new Error(`recording ${id} is encrypted and recording.encryption is not configured`);
    const key = await o.encryption.dataKey(o.dir, id);
    for (const f of onDisk) await repairSealed(o, f, key, meta);
  } else {
    for (const f of onDisk) await repairWav(o, f);
  }
  const t0 = started.getTime();
  for (const s of meta.legs.flatMap((l) => l.stems)) s.end = { roomMs: null, fileMs: s.durationMs, at: new Date(t0 + s.durationMs).toISOString() };
  meta.durationMs = meta.mix.durationMs;
  meta.endedAt = new Date(t0 + Math.max(...entries.map((e) => e.durationMs))).toISOString();
  const written = await finalizeRepaired(o, id, meta, entries);
  if (!written) o.log.error({ recording: id }, 'WAVs without a sidecar adopted, but the sidecar could not be written: left for the next start');
  else o.log.warn({ recording: id, files: onDisk.map((f) => f.file), durationMs: meta.durationMs }, 'WAVs without a sidecar adopted as a recording without metadata');
  return written ? { id, meta, files: filesOf(id, meta) } : null;
}

/** The sidecar of an adopted recording before its files are repaired: only what the names and headers say. */
function metadataOf(id: string, started: Date, sampleRate: number, files: OrphanFile[], sealed: boolean): RecordingMetadata {
  const at = started.toISOString();
  const entry = (file: string, channels: number): FileEntry => ({ file, channels, sampleRate, durationMs: 0, sha256: null });
  const mixFile = files.find((f) => f.part.kind === 'mix')?.file;
  const stereoFile = files.find((f) => f.part.kind === 'stereo')?.file;
  const legs = new Map<string, LegEntry>();
  for (const f of files.filter((x) => x.part.kind === 'stem').sort((a, b) => a.part.n! - b.part.n!)) {
    const leg = legs.get(f.part.leg!) ?? { id: f.part.leg!, uri: null, displayName: null, identity: 'normal', callId: null, originalTo: null, role: 'other', joins: [], leaves: [], stems: [] };
    const stem: StemEntry = { ...entry(f.file, 1), start: { roomMs: null, fileMs: 0, at }, end: null };
    leg.stems.push(stem);
    legs.set(leg.id, leg);
  }
  return {
    version: 1,
    room: roomOfRecordingId(id),
    state: 'recording',
    interrupted: true,
    recoveredWithoutMetadata: true,
    sampleRate,
    pauseMode: 'skip',
    startedAt: at,
    startRoomMs: null,
    endedAt: null,
    updatedAt: new Date().toISOString(),
    durationMs: 0,
    mix: mixFile ? entry(mixFile, 1) : { ...entry(`${id}.mix.wav`, 1), lost: 'missing: no mix file on disk' },
    stereo: stereoFile ? { ...entry(stereoFile, 2), left: null } : null,
    legs: [...legs.values()],
    notices: [],
    pauses: [],
    masks: [],
    postProcessing: { format: 'none', state: 'none', error: null },
    postProcessed: [],
    errors: [...UNKNOWN],
    flow: null,
    rule: null,
    retention: null,
    ...(sealed ? { encryption: { scheme: KEY_SCHEME, keyFile: keyFileName(id) } } : {}),
  };
}

/**
 * The file's channels and rate from its first bytes: a PCM s16 WAV header, or a sealed file's header
 * (chunk-format.ts, plaintext). Null when the file is shorter than its header (the repair removes it).
 * Throws for a file of another kind: not Parley's, never adopted.
 */
async function headOf(path: string): Promise<FileHead | null> {
  const fh = await open(path, 'r');
  let buf: Buffer;
  try {
    const b = Buffer.alloc(WAV_HEADER_BYTES);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    buf = b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (buf.length >= 8 && buf.toString('ascii', 0, 8) === MAGIC) {
    if (buf.length < FILE_HEADER_BYTES) return null;
    const h = parseFileHeader(buf, path);
    return { sealed: true, channels: h.channels, sampleRate: h.sampleRate };
  }
  if (buf.length < WAV_HEADER_BYTES) return null;
  const wav = buf.toString('ascii', 0, 4) === 'RIFF' && buf.toString('ascii', 8, 16) === 'WAVEfmt ' && buf.readUInt16LE(20) === 1 && buf.readUInt16LE(34) === 16 && buf.toString('ascii', 36, 40) === 'data';
  if (!wav) throw new Error(`${path}: not a 16-bit PCM WAV as Parley writes them`);
  return { sealed: false, channels: buf.readUInt16LE(22), sampleRate: buf.readUInt32LE(24) };
}

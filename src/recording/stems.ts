// A recording's stems: one WAV per leg with that leg's own input, opened when the
// leg joins and closed when it has left (a rejoin opens a new one), each listed in
// its leg's metadata. A leg that left keeps its stem while the room's ticks still
// carry its frames: what its jitter buffer held when it left (its tail, leg-tails.ts:
// up to a second of a record-only SIPREC stream) is its audio too. Closed stems are
// kept until the recording is finalized (hashed, post-processed). With stems off,
// nothing is written.
import type { PcmFrame } from '../mixer/frames.ts';
import { safeName } from './file-names.ts';
import type { FileEntry, LegEntry, StemEntry, TimePoint } from './metadata.ts';
import { WavFileWriter, type WavWriterHooks } from './wav-file-writer.ts';
import type { PcmSealer } from './encryption/pcm-sealer.ts';


const NO_FRAME = (): PcmFrame => new Int16Array(0);
/** A left leg's tail is at most this many frames (leg-tails.ts holds at most 64): its stem ends after them whatever the ticks carry. */
const MAX_TAIL_FRAMES = 80;

export interface StemsOptions {
  enabled: boolean;
  /** File names are `<base>.leg<n>-<leg id>.wav`. */
  base: string;
  sampleRate: number;
  pathOf(name: string): string;
  /** Hooks for each stem's writer, given the stem's file name. */
  hooks(file: string): WavWriterHooks;
  /** Encrypted recordings: the sealer of a new file (recording-encryption.ts). */
  sealer?: (channels: number) => PcmSealer | null;
  /** WavFileWriter's headerEveryPasses (default 1). */
  headerEveryPasses?: number;
}

/** What the sidecar says about a file being written (hash and duration filled in later). */
export function fileEntryOf(w: WavFileWriter): FileEntry {
  return { file: w.path.slice(w.path.lastIndexOf('/') + 1), channels: w.channels, sampleRate: w.sampleRate, durationMs: 0, sha256: null };
}

export class Stems {
  private readonly open = new Map<string, { writer: WavFileWriter; entry: StemEntry }>();
  private readonly done: { writer: WavFileWriter; entry: StemEntry }[] = [];
  /** Open stems of legs that left, by leg id: the frames of their tail taken since. */
  private readonly leaving = new Map<string, number>();
  private count = 0;
  /** Stems started since the last openWhenListed(): their files wait for the sidecar that names them. */
  private unlisted: WavFileWriter[] = [];

  constructor(private readonly o: StemsOptions) {}

  /** The leg joins: its stem starts here and is listed in its metadata. */
  start(leg: LegEntry, at: TimePoint): void {
    // Back before its tail played out: the tail's stem ends, the new one starts.
    if (this.leaving.has(leg.id)) this.end(leg.id, at);
    if (!this.o.enabled || this.open.has(leg.id)) return;
    const file = `${this.o.base}.leg${++this.count}-${safeName(leg.id, 40)}.wav`;
    // Held: created once the sidecar listing it is on disk (openWhenListed), so a kill -9 never leaves a stem it does not name.
    const writer = new WavFileWriter(this.o.pathOf(file), this.o.sampleRate, 1, this.o.hooks(file), this.o.sealer?.(1) ?? null, this.o.headerEveryPasses ?? 1, true);
    const entry: StemEntry = { ...fileEntryOf(writer), start: at, end: null };
    leg.stems.push(entry);
    this.open.set(leg.id, { writer, entry });
    this.unlisted.push(writer);
  }

  /**
   * `saved`: the sidecar write that lists the stems started since the last call. Their files are
   * created when it settles, written or not (a failed write, a full disk: the audio still goes to
   * its file, and the next sidecar that gets written names it).
   */
  openWhenListed(saved: Promise<unknown>): void {
    if (this.unlisted.length === 0) return;
    const writers = this.unlisted;
    this.unlisted = [];
    const release = (): void => writers.forEach((w) => w.release());
    saved.then(release, release);
  }

  /** One frame to every open stem: `frameOf` gives each leg's frame of this tick. */
  append(frameOf: (legId: string) => PcmFrame): void {
    // forEach with a bound function: no iterator or entry made per tick.
    this.frameOf = frameOf;
    this.open.forEach(this.appendOne);
    this.frameOf = NO_FRAME;
  }

  private frameOf: (legId: string) => PcmFrame = NO_FRAME;
  private readonly appendOne = (s: { writer: WavFileWriter }, id: string): void => s.writer.append(this.frameOf(id));

  /** The leg left: its stem takes the frames the ticks still carry for it (its tail), then ends (endPlayedOut). */
  leave(legId: string): void {
    if (this.open.has(legId)) this.leaving.set(legId, 0);
  }

  /**
   * Before a tick is written: the stem of a leg that left ends here when the tick does not
   * carry the leg (its tail played out), or carries more than a tail can be.
   */
  endPlayedOut(legs: ReadonlyMap<string, unknown>, at: () => TimePoint): void {
    if (this.leaving.size === 0) return;
    for (const [id, frames] of this.leaving) {
      if (legs.has(id) && frames < MAX_TAIL_FRAMES) this.leaving.set(id, frames + 1);
      else this.end(id, at());
    }
  }

  /** The stem ends now: it completes in the background (`writer.closed`, see `closed`). */
  end(legId: string, at: TimePoint): void {
    const s = this.open.get(legId);
    this.leaving.delete(legId);
    if (!s) return;
    this.open.delete(legId);
    s.writer.close();
    s.entry.end = at;
    s.entry.durationMs = Math.round(s.writer.durationMs);
    this.done.push(s);
  }

  endAll(at: TimePoint): void {
    for (const id of [...this.open.keys()]) this.end(id, at);
  }

  flush(): void {
    for (const s of this.open.values()) s.writer.flush();
  }

  /** Durations of the open stems into their metadata entries. */
  refreshDurations(): void {
    for (const s of this.open.values()) s.entry.durationMs = Math.round(s.writer.durationMs);
  }

  /** The closed stems (all of them once the recording is closed), for finalizing. */
  get closed(): { entries: StemEntry[]; written: Promise<void>[] } {
    return { entries: this.done.map((s) => s.entry), written: this.done.map((s) => s.writer.closed) };
  }

  /** Once every closed stem is complete: their entries say what is on disk (duration, or why it is lost); their hashes go to `hashes`. */
  settleEntries(hashes?: Map<string, string>): void {
    for (const { writer, entry } of this.done) settleEntry(entry, writer, hashes);
  }
}

/**
 * A complete file's entry: the duration of the audio on disk, or why there is none.
 * The writer's hash of the file (if it has one) goes to `hashes` by file name, for
 * finalizeRecording, which puts it in the entry.
 */
export function settleEntry(entry: FileEntry, writer: WavFileWriter, hashes?: Map<string, string>): void {
  entry.durationMs = Math.round(writer.fileDurationMs);
  if (writer.lost !== null) entry.lost = writer.lost;
  else if (writer.sha256 !== null) hashes?.set(entry.file, writer.sha256);
}

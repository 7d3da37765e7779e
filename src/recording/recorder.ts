// A Recorder is the TickSink of one room. It owns the files: a mono WAV of the mix, one stem per leg (stems.ts),
// a stereo WAV (left: the caller leg, right: every other leg) and the JSON sidecar (recorder-files.ts makes
// their writers). Each tick goes into them as memory copies (recorder-tick-feed.ts); a timer (shared with other recordings:
// flush-timers.ts) flushes them with async writes and rewrites the headers (see WavFileWriter), and rewrites the
// sidecar (SidecarWriter: async, atomic) within a second of a change to what it records, at once when a leg joins,
// a notice plays or the SIPREC view changes, its lengths alone every 10 s (sidecar-schedule.ts). No synchronous file call.
//
// Write failures (a full disk): each file reports its outage once ('writeError', also in the sidecar's
// writeFailures), keeps the audio on disk consistent, and resumes where it stopped when writes succeed
// again ('writeResumed'). The call goes on; call control decides (recording.onWriteError). A final sidecar
// that cannot be written is retried; nothing signs, audits or uploads it before it is on disk.
//
// Timeline decisions (recorded in the sidecar):
// - pause: pauseMode 'skip' (default) writes nothing while paused, so the files
//   are shorter than the call; 'silence' writes silence. Both are listed in `pauses`.
// - mask: always writes silence for every file, keeping the timeline (card numbers).
// - ticks the room never handed over (its thread stalled past the clock's catch-up, or a full ring
//   dropped them) are written as silence, so the files keep the room's timeline, and listed in `gaps` (timeline-gaps.ts).
// - stems start when their leg joins (the stem entry records where on the room
//   clock and in the mixed file), and end when it leaves; a rejoin starts a new stem.
// - the caller (stereo left) is the first leg added with role 'caller', else the
//   first leg to join. A leg id seen in a tick but never added joins implicitly.
import { FRAME_MS, samplesPerFrame, type FrameSource, type MixTick, type TickSink } from '../mixer/frames.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { newRecordingId, pathInside } from './file-names.ts';
import { newMetadata, noteWriteFailure, noteWriteResumed, type HoldDirection, type LegInfo, type RecordingMetadata, type TimePoint, type TransferNote } from './metadata.ts';
export type { LegInfo };
import { finalizeRecording, runFinalizeSteps, stepLogger } from './finalize-recording.ts';
import type { SidecarWriter } from './sidecar-writer.ts';
import { flushTimers } from './flush-timers.ts';
import { SidecarSchedule } from './sidecar-schedule.ts';
import type { SiprecSidecar } from './siprec-sidecar.ts';
import { CompanionFiles } from './companion-files.ts';
import { PauseMask } from './pause-mask.ts';
import { NoticeOverlay } from './notice-overlay.ts';
import { fileEntryOf, settleEntry, type Stems } from './stems.ts';
import type { WavFileWriter } from './wav-file-writer.ts';
import { recorderFiles, type FileHooks } from './recorder-files.ts';
import { RecorderLegs } from './recorder-legs.ts';
import { RecorderTickFeed } from './recorder-tick-feed.ts';
import { MAX_GAP_FRAMES, TimelineGaps } from './timeline-gaps.ts';
import type { RecorderEvents, RecorderOptions } from './recorder-types.ts';
export type { RecorderEvents, RecorderOptions };

export class Recorder extends TypedEmitter<RecorderEvents> implements TickSink {
  readonly id: string;
  readonly sampleRate: number;
  readonly finalized: Promise<RecordingMetadata>;
  /** Resolves with the 'closed' event: every file complete on disk. */
  readonly whenClosed: Promise<RecordingMetadata>;
  private readonly n: number;
  private readonly meta: RecordingMetadata;
  private readonly mix: WavFileWriter;
  private readonly stereo: WavFileWriter | null;
  private readonly legs: RecorderLegs;
  private readonly stems: Stems;
  private readonly feed: RecorderTickFeed;
  private readonly sidecar: SidecarWriter;
  private readonly notices: NoticeOverlay;
  /** Leaves the shared flush timers (flush-timers.ts); null once closed. */
  private stopFlushing: (() => void) | null;
  private readonly schedule = new SidecarSchedule();
  private clockMs: number | null = null;
  private closed = false;
  /** Files written beside the audio (SIPREC metadata versions): awaited and hashed before finalization. */
  private readonly companions: CompanionFiles;
  private readonly pauseMask: PauseMask;
  private readonly gaps: TimelineGaps;
  private resolveFinalized!: (m: RecordingMetadata) => void;
  private resolveClosed!: (m: RecordingMetadata) => void;
  private readonly log: Logger;

  constructor(private readonly options: RecorderOptions) {
    super(options.log);
    this.log = options.log;
    this.sampleRate = options.sampleRate;
    this.n = samplesPerFrame(options.sampleRate);
    if (!Number.isInteger(this.n) || this.n <= 0) throw new RangeError(`bad room rate ${options.sampleRate}`);
    const started = new Date();
    this.id = newRecordingId(options.roomId, started);
    this.finalized = new Promise((r) => (this.resolveFinalized = r));
    this.whenClosed = new Promise((r) => (this.resolveClosed = r));
    const keys = options.encryption?.newRecording(options.dir, this.id) ?? null;
    const files = recorderFiles({
      dir: options.dir,
      base: this.id,
      sampleRate: this.sampleRate,
      stereo: options.stereo !== false,
      stems: options.stems !== false,
      flushIntervalMs: options.flushIntervalMs,
      keys,
      hooks: (f) => this.hooks(f),
    });
    ({ mix: this.mix, stereo: this.stereo, sidecar: this.sidecar, stems: this.stems } = files);
    this.notices = new NoticeOverlay(this.sampleRate, (prompt, leg) => this.markNotice(prompt, leg));
    this.meta = newMetadata({
      room: options.roomId,
      sampleRate: this.sampleRate,
      pauseMode: options.pauseMode ?? 'skip',
      startedAt: started,
      mix: fileEntryOf(this.mix),
      stereo: this.stereo ? fileEntryOf(this.stereo) : null,
      postProcess: options.postProcess ?? 'none',
      labels: options.labels,
    });
    if (keys) this.meta.encryption = keys.entry;
    this.gaps = new TimelineGaps(this.meta, this.log, this.id);
    this.legs = new RecorderLegs(this.meta, this.stems);
    this.companions = new CompanionFiles((f) => this.path(f), this.log);
    this.pauseMask = new PauseMask(this.meta.pauses, this.meta.masks, () => this.safeEmit('state', { paused: this.isPaused, masked: this.isMasked }));
    this.feed = new RecorderTickFeed({
      n: this.n,
      mix: this.mix,
      stereo: this.stereo,
      stems: this.stems,
      legs: this.legs,
      notices: this.notices,
      pauseMask: this.pauseMask,
      skipWhilePaused: this.meta.pauseMode === 'skip',
      log: this.log,
    });
    // The WAVs are created once this first sidecar (which names them) is on disk: a kill -9 in between leaves no file it does not list.
    void this.saveNow().then(() => [this.mix, this.stereo].forEach((w) => w?.release()));
    // Every flush period, on a timer shared with other recordings (flush-timers.ts).
    this.stopFlushing = flushTimers().add(files.flushEveryMs, () => {
      try {
        this.flush();
      } catch (err) {
        this.fail(err as Error);
      }
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The room it records. */
  get roomId(): string {
    return this.options.roomId;
  }

  /** A deep copy of the sidecar as it stands, with the lengths recorded so far (the sidecar on disk may hold older ones). */
  get metadata(): RecordingMetadata {
    return structuredClone(this.metadataNow);
  }

  /** The sidecar as it stands (its lengths so far), not copied (a clone per call was 1 % of the main thread): read it at once, never keep or change it. */
  get metadataNow(): Readonly<RecordingMetadata> {
    if (!this.closed) this.refreshDurations();
    return this.meta;
  }

  /** Every file name of this recording so far (inside the recordings folder). */
  get files(): string[] {
    const stems = this.meta.legs.flatMap((l) => l.stems.map((s) => s.file));
    const siprec = this.meta.siprec?.metadataVersions.map((v) => v.file) ?? [];
    return [this.meta.mix.file, ...(this.meta.stereo ? [this.meta.stereo.file] : []), ...stems, ...siprec, `${this.id}.json`];
  }

  /** The SIPREC section of the sidecar (a copy is kept); written now: it names the new metadata version files and streams. */
  setSiprec(view: SiprecSidecar): void {
    if (this.closed) return;
    this.meta.siprec = structuredClone(view);
    void this.saveNow();
  }

  /**
   * Writes a small file beside the audio (a SIPREC metadata version, named by the caller inside the recordings
   * folder; never overwritten), awaited by complete() and hashed into the sidecar before it is signed.
   */
  writeCompanion(name: string, text: string): void {
    this.companions.write(name, text);
  }

  writeTick(tick: MixTick): void {
    if (this.closed) return;
    if (this.meta.startRoomMs === null) this.meta.startRoomMs = tick.timeMs;
    else if (this.clockMs !== null && tick.timeMs > this.clockMs) this.fillGap(tick.timeMs - this.clockMs);
    this.clockMs = tick.timeMs;
    this.stems.endPlayedOut(tick.legs, this.now);
    tick.legs.forEach(this.joinIfNew); // bound once: no iterator per tick
    this.clockMs = tick.timeMs + FRAME_MS;
    this.feed.write(tick);
  }

  private readonly joinIfNew = (_frame: unknown, id: string): void => {
    if (!this.legs.has(id)) this.joinLeg(id, {}, false);
  };

  /** A leg joins (or its details change, if present). Starts its stem now. */
  addLeg(legId: string, info: LegInfo): void {
    this.joinLeg(legId, info, true);
  }

  /** `explicit`: addLeg, not a tick's implicit join. The sidecar names the new stem now, and its file is created once that is on disk (Stems.openWhenListed): a kill -9 never leaves a stem it does not name. */
  private joinLeg(legId: string, info: LegInfo, explicit: boolean): void {
    if (this.closed) return;
    const at = this.legs.join(legId, info, explicit, () => this.now());
    if (!at) return;
    this.stems.openWhenListed(this.saveNow());
    this.safeEmit('legJoined', { legId, at });
  }

  updateLeg(legId: string, info: LegInfo): void {
    if (!this.closed) this.legs.update(legId, info);
  }

  /** A leg leaves: its stem ends once the ticks no longer carry it (the tail its jitter buffer held, Stems.leave). */
  removeLeg(legId: string): void {
    if (this.closed) return;
    const at = this.legs.leave(legId, () => this.now());
    if (at) this.safeEmit('legLeft', { legId, at });
  }

  /** A leg goes on hold (`direction`) or off it (null): its sidecar entry's `holds`, timed like joins (one open at the close keeps `end: null`); the audio is written as it comes. */
  holdLeg(legId: string, direction: HoldDirection | null): void {
    if (this.closed) return;
    this.legs.hold(legId, direction, () => this.now());
  }

  /** Notes that a notice ("this call may be recorded") was played (to `leg` alone, if given), and when. */
  markNotice(prompt: string, leg?: string): void {
    if (this.closed) return;
    this.meta.notices.push({ prompt, ...(leg === undefined ? {} : { leg }), ...this.now() });
    void this.saveNow(); // the proof that a party was told must survive a kill during the notice
  }

  /** A transfer the call went through (the sidecar's `transfers`), timed like joins and leaves. */
  markTransfer(t: TransferNote): void {
    if (!this.closed) (this.meta.transfers ??= []).push({ ...t, ...this.now() });
  }

  /** A notice played to `legId` alone (leg.play): the source to play instead, its frames also written into the mix, the leg's stem and stereo channel (notice-overlay.ts); marked in the sidecar. */
  tapNotice(source: FrameSource, legId: string, prompt: string): FrameSource {
    return this.notices.tap(source, legId, prompt);
  }

  pause(reason: string | null = null): void {
    if (!this.closed) this.pauseMask.pause(reason, this.now());
  }

  resume(): void {
    if (!this.closed) this.pauseMask.resume(this.now());
  }

  /** Silence in every file from now, keeping the timeline (e.g. while a card number is spoken). */
  mask(reason: string | null = null): void {
    if (!this.closed) this.pauseMask.mask(reason, this.now());
  }

  unmask(): void {
    if (!this.closed) this.pauseMask.unmask(this.now());
  }

  get isPaused(): boolean {
    return this.pauseMask.isPaused;
  }

  get isMasked(): boolean {
    return this.pauseMask.isMasked;
  }

  /**
   * Synchronous and idempotent: no more audio, the recorder forgotten by its parent. Once every file is complete
   * (final headers, fsync): the sidecar with `state: 'closed'`, 'closed' (`whenClosed`); then hashes,
   * post-processing, 'finalized' (`finalized`).
   */
  close(): void {
    if (this.closed) return;
    const at = this.now();
    this.pauseMask.closeAt(at);
    this.closed = true;
    this.notices.close();
    this.gaps.close();
    this.stopFlushing?.();
    this.stopFlushing = null;
    this.stems.endAll(at);
    this.mix.close();
    this.stereo?.close();
    this.meta.state = 'closed';
    this.meta.endedAt = at.at;
    this.refreshDurations();
    this.options.onClose?.(this);
    this.complete().catch((err: unknown) => this.fail(err as Error));
  }

  /** Never rejects: a failure (e.g. a file hashed away by someone) is logged and put in `errors`. */
  private async complete(): Promise<void> {
    await Promise.all([this.mix.closed, ...(this.stereo ? [this.stereo.closed] : []), ...this.stems.closed.written]);
    // The sidecar says what is on disk, not what was meant to be; the writers hashed their files as they closed them.
    const hashes = new Map<string, string>();
    settleEntry(this.meta.mix, this.mix, hashes);
    if (this.meta.stereo && this.stereo) settleEntry(this.meta.stereo, this.stereo, hashes);
    this.stems.settleEntries(hashes);
    this.meta.durationMs = this.meta.mix.durationMs;
    // Written before finalizeRecording hashes them (and the sidecar is signed).
    await this.companions.settled();
    await this.saveMeta();
    const closed = this.metadata;
    this.safeEmit('closed', closed);
    this.resolveClosed(closed);
    let written = true; // the final sidecar reached the disk
    try {
      written = await finalizeRecording({
        id: this.id,
        meta: this.meta,
        files: [this.meta.mix, ...(this.meta.stereo ? [this.meta.stereo] : []), ...this.stems.closed.entries],
        closed: [],
        hashes,
        pathOf: (f) => this.path(f),
        postProcessor: this.options.postProcessor,
        save: () => this.saveMeta(),
        onProgress: (p) => this.safeEmit('postProgress', p),
        steps: this.options.finalizeSteps,
        beforeFinal: async () => this.options.beforeFinal?.(this.id),
        stepFailed: stepLogger(this.log, this.id),
      });
    } catch (err) {
      this.fail(err as Error);
      await this.saveMeta();
    }
    const m = this.metadata;
    this.safeEmit('finalized', m);
    await this.options.afterFinalized?.(this.id); // its report on disk, its mark gone (never rejects)
    this.resolveFinalized(m);
    // The final sidecar not on disk (a full disk): tried again for a while; the steps (signature, audit, upload) run once it is.
    const steps = written ? undefined : () => runFinalizeSteps({ id: this.id, meta: this.meta, pathOf: (f) => this.path(f), recovered: false }, this.options.finalizeSteps, stepLogger(this.log, this.id));
    this.sidecar.retryWhileFailing(() => this.saveMeta(), (err) => this.fail(err), steps);
  }

  private flush(): void {
    this.mix.flush();
    this.stereo?.flush();
    this.stems.flush();
    if (!this.sidecar.busy && this.schedule.due(this.meta)) void this.saveNow();
  }

  /**
   * Ticks missing before this one: the room's clock skipped them (its thread stalled over its catch-up)
   * or a full ring dropped them. Silence in their place keeps every file on the room's timeline.
   */
  private fillGap(ms: number): void {
    const frames = Math.round(ms / FRAME_MS);
    if (frames <= 0) return;
    const filled = frames <= MAX_GAP_FRAMES;
    this.gaps.note(ms, filled, Math.round(this.mix.durationMs));
    if (filled) this.feed.writeGap(frames);
  }

  private readonly now = (): TimePoint => ({ roomMs: this.clockMs, fileMs: Math.round(this.mix.durationMs), at: new Date().toISOString() });

  private refreshDurations(): void {
    this.meta.mix.durationMs = Math.round(this.mix.durationMs);
    if (this.meta.stereo && this.stereo) this.meta.stereo.durationMs = Math.round(this.stereo.durationMs);
    this.meta.durationMs = this.meta.mix.durationMs;
    this.stems.refreshDurations();
  }

  /** The sidecar now, with the lengths so far: resolves when it is on disk (true) or its write failed (false). Never rejects. */
  private saveNow(): Promise<boolean> {
    this.refreshDurations();
    return this.saveMeta().catch((err: unknown) => (this.fail(err as Error), false));
  }

  /** The sidecar as it stands now, atomically and asynchronously (SidecarWriter): false when it could not be written. Never rejects. */
  private async saveMeta(): Promise<boolean> {
    this.meta.updatedAt = new Date().toISOString();
    if (!this.closed) this.schedule.written(this.meta); // once closed, no flush asks it
    return this.sidecar.write(this.meta);
  }

  /** The hooks of the writer of `file` (a WAV, or the sidecar: errors there are write errors). */
  private hooks(file: string): FileHooks {
    return {
      error: (error, kind = 'write') => {
        if (kind !== 'write') return this.fail(error);
        noteWriteFailure(this.meta, file, error);
        this.fail(error);
        this.safeEmit('writeError', { file, error });
      },
      resumed: () => {
        noteWriteResumed(this.meta, file);
        this.log.info({ recording: this.id, file }, 'recording writes resumed');
        this.safeEmit('writeResumed', { file });
      },
    };
  }

  private fail(err: Error): void {
    this.log.error({ err, recording: this.id }, 'recording error');
    if (this.meta.errors.length < 20) this.meta.errors.push(err.message);
    this.safeEmit('error', err);
  }

  private path(name: string): string {
    return pathInside(this.options.dir, name);
  }
}

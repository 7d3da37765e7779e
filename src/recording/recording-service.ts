// The parent of all recorders: the only factory of Recorders (one per room
// recording), owner of the post-processing queue, and the place that knows the
// recordings folder and the defaults from config `recording`. It also repairs
// the recordings an earlier process left unfinished (recoverInterrupted), counts
// write failures, and knows whether the disk has room for a new recording.
import { mkdir, statfs } from 'node:fs/promises';
import { componentLogger, type Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { within } from '../util/within.ts';
import { recordingIo } from './io/recording-io.ts';
import { postProcessingUnfinished, type FinalizeStep } from './finalize-recording.ts';
import type { PauseMode, RecordingLabels, RecordingMetadata } from './metadata.ts';
import { PostProcessor } from './post-processor.ts';
import { Recorder } from './recorder.ts';
import { recoverRecordings, type RecoveredRecording } from './recover-recordings.ts';
import { FinalizeMarks } from './finalize-marks.ts';
import type { RecordingEncryption } from './encryption/recording-encryption.ts';
import type { RecordingUploader } from './store/recording-uploader.ts';

export interface RecordingServiceOptions {
  /** config recording.dir */
  dir: string;
  /** config recording.postProcess */
  postProcess: 'none' | 'ogg' | 'mp3';
  /** config recording.postProcessReadRate (0: as fast as ffmpeg can). */
  postProcessReadRate?: number;
  /** config recording.flushIntervalMs */
  flushIntervalMs?: number;
  /** config recording.pauseMode */
  pauseMode?: PauseMode;
  /** config recording.onWriteError: what call control does when a recording cannot be written. */
  onWriteError?: 'continue' | 'hangup';
  /** config recording.minFreeBytes: below this free space on `dir`, new recordings are refused. */
  minFreeBytes?: number;
  /** config recording.encryption, loaded (null: off). */
  encryption?: RecordingEncryption | null;
  /** config recording.store: the uploader of finalized recordings (owned from here on: closed by close()). */
  store?: RecordingUploader | null;
  log: Logger;
}

/** How often the free space of the recordings folder is measured at most. */
const STATFS_MAX_AGE_MS = 1000;

export interface StartRecordingOptions {
  roomId: string;
  /** The room's mixer rate (16000 or 48000). */
  sampleRate: number;
  postProcess?: 'none' | 'ogg' | 'mp3';
  pauseMode?: PauseMode;
  /** Write the stereo file / a stem per leg (default true). */
  stereo?: boolean;
  stems?: boolean;
  /** Flow, rule and retention of the recording (sidecar). */
  labels?: RecordingLabels;
}

export type RecordingServiceEvents = {
  /** A recorder was created (the control API follows it to 'finalized'). */
  recorder: [recorder: Recorder];
  /** A recording's file cannot be written (once per outage and file). */
  writeError: [recorder: Recorder, failure: { file: string; error: Error }];
  /** Writes to that file succeed again. */
  writeResumed: [recorder: Recorder, file: string];
  /** An unfinished recording of an earlier process was repaired and finalized (the API's recording.saved). */
  recovered: [recording: RecoveredRecording];
};

export class RecordingService extends TypedEmitter<RecordingServiceEvents> {
  readonly postProcessor: PostProcessor;
  /**
   * What runs after each recording is finalized (also those repaired at start), in
   * this order: compliance signing first, then whatever else is pushed here (e.g.
   * encryption, upload). Filled at wiring time, before calls arrive.
   */
  readonly finalizeSteps: FinalizeStep[] = [];
  private readonly recorders = new Map<string, Recorder>();
  /** The recordings this process started, until recovery is over (it leaves them alone). */
  private ours: Set<string> | null = new Set();
  /** Closed recorders whose files are not complete yet. */
  private readonly completing = new Set<Promise<unknown>>();
  /** Closed recorders not finalized yet (their 'finalized' is the API's recording.saved). */
  private readonly finalizing = new Set<Promise<unknown>>();
  /** recoverInterrupted() while it runs: a stop waits for it (settled()). */
  private recovering: Promise<unknown> | null = null;
  /** finishAll() was called: a recovery stops after the recording it is repairing. */
  private finishing = false;
  /** Recordings between their final sidecar and their report on disk (finalize-marks.ts). */
  private readonly marks: FinalizeMarks;
  /** Resolves once the events emitted so far are durable (the API's webhook spool); set by the API. */
  private reported: () => Promise<void> = async () => undefined;
  private readonly log: Logger;
  private closed = false;
  private writeErrorCount = 0;
  private freeBytes: number | null = null;
  private freeAt = 0;
  private statfsInFlight = false;
  private readonly stopWatchingIo: () => void;

  constructor(private readonly options: RecordingServiceOptions) {
    super(options.log);
    this.log = componentLogger(options.log, 'recording');
    this.postProcessor = new PostProcessor(this.log, options.postProcessReadRate ?? 0);
    this.marks = new FinalizeMarks(options.dir);
    this.stopWatchingIo = recordingIo().onThreadDeath((err, resent) =>
      this.log.error({ err, resent }, 'the recording I/O thread died: a new one took over its open files and unanswered calls'),
    );
    // Upload after everything else (compliance unshifts its signing step before it).
    if (options.store) this.finalizeSteps.push(options.store.finalizeStep());
    this.refreshFreeSpace();
  }

  /**
   * `fn` resolves once the events emitted so far (recording.saved) are on disk: a
   * recording's finalize mark is removed only then (the control API sets it).
   */
  reportedBy(fn: () => Promise<void>): void {
    this.reported = fn;
  }

  /**
   * The mark of a finalized recording goes once its report is durable; one whose
   * post-processing a stop cut short keeps it: the next start resumes the encoding.
   */
  private unmark(id: string, meta: RecordingMetadata): Promise<void> {
    if (postProcessingUnfinished(meta)) {
      this.log.info({ recording: id }, 'post-processing interrupted by the stop: the next start resumes it');
      return Promise.resolve();
    }
    return this.reported()
      .then(() => this.marks.end(id))
      .catch((err: unknown) => this.log.warn({ err, recording: id }, 'finalize mark not removed: the next start reports the recording again'));
  }

  /** The uploader of recording.store (null: none). */
  get store(): RecordingUploader | null {
    return this.options.store ?? null;
  }

  /** config recording.encryption, loaded (null: off). */
  get encryption(): RecordingEncryption | null {
    return this.options.encryption ?? null;
  }

  /** config recording.onWriteError */
  get onWriteError(): 'continue' | 'hangup' {
    return this.options.onWriteError ?? 'continue';
  }

  /** Write failures since start (each file's outage counted once): the metrics' parley_recording_write_errors_total. */
  get writeErrors(): number {
    return this.writeErrorCount;
  }

  /** Free bytes on the recordings folder's file system at the last measurement (null: not known). */
  get freeSpace(): number | null {
    return this.freeBytes;
  }

  /**
   * Whether a new recording may start: false when the last measured free space is
   * below recording.minFreeBytes. Synchronous (admission cannot wait); the
   * measurement is refreshed in the background when older than a second.
   */
  hasRoom(): boolean {
    if (Date.now() - this.freeAt >= STATFS_MAX_AGE_MS) this.refreshFreeSpace();
    const min = this.options.minFreeBytes ?? 0;
    return min <= 0 || this.freeBytes === null || this.freeBytes >= min;
  }

  private refreshFreeSpace(): void {
    if (this.statfsInFlight || this.closed) return;
    this.statfsInFlight = true;
    const dir = this.options.dir;
    mkdir(dir, { recursive: true })
      .then(() => statfs(dir))
      .then(
        (s) => {
          this.freeBytes = s.bavail * s.bsize;
          this.freeAt = Date.now();
        },
        (err: unknown) => {
          // Unknown free space does not refuse calls; the recorder reports real failures.
          if (this.freeAt === 0) this.log.warn({ err, dir }, 'cannot measure the free space of the recordings folder');
          this.freeBytes = null;
          this.freeAt = Date.now();
        },
      )
      .finally(() => (this.statfsInFlight = false))
      .catch(() => undefined);
  }

  /**
   * Repairs and finalizes the recordings an earlier process left unfinished in
   * recording.dir (see recover-recordings.ts) and emits 'recovered' for each.
   * Call once at start, after the API listens. Never rejects.
   */
  recoverInterrupted(): Promise<RecoveredRecording[]> {
    const p = this.recover();
    this.recovering = p.finally(() => (this.recovering = null));
    return p;
  }

  private async recover(): Promise<RecoveredRecording[]> {
    // Uploads a previous process left pending resume first (they are older).
    await this.options.store?.start().catch((err: unknown) => this.log.error({ err }, 'the upload journal cannot be read'));
    try {
      const found = await recoverRecordings({
        dir: this.options.dir,
        isOurs: (id) => this.ours?.has(id) ?? false,
        postProcessor: this.closed ? undefined : this.postProcessor,
        steps: this.finalizeSteps,
        encryption: this.options.encryption,
        stopped: () => this.finishing || this.closed,
        marks: this.marks,
        log: this.log,
      });
      for (const r of found) this.safeEmit('recovered', r);
      await Promise.all(found.map((r) => this.unmark(r.id, r.meta)));
      return found;
    } catch (err) {
      this.log.error({ err }, 'looking for interrupted recordings failed');
      return [];
    } finally {
      this.ours = null;
    }
  }

  /**
   * Resolves when every closed recorder's files are complete and a recovery in
   * progress is over (the process may then exit), or after `timeoutMs`.
   */
  settled(timeoutMs = 10_000): Promise<void> {
    return within(timeoutMs, async () => {
      while (this.completing.size > 0 || this.recovering) await Promise.all([...this.completing, this.recovering]);
      // The last upload attempts' journal writes (a 'stored' reported is then out of the journal).
      await this.options.store?.idle();
    });
  }

  /**
   * A clean stop, before close(), while the API still sends events: post-processing
   * stops (the running ffmpeg is killed, queued jobs dropped: those sidecars stay
   * 'pending' and keep their finalize mark: the next start resumes them), every open recorder closes, and this resolves once every recording
   * closed so far is finalized ('finalized' emitted: the API's recording.saved), or
   * after `timeoutMs` (the next start finalizes what is left). A recovery in progress
   * stops after the recording it is repairing (the next start does the rest). Never rejects.
   */
  finishAll(timeoutMs = 10_000): Promise<void> {
    this.finishing = true;
    this.postProcessor.close();
    for (const r of [...this.recorders.values()]) r.close();
    return within(timeoutMs, async () => {
      while (this.finalizing.size > 0 || this.recovering) await Promise.all([...this.finalizing, this.recovering]);
    });
  }

  /** `p` is waited for by settled() (the process may exit after it). */
  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined).finally(() => this.completing.delete(q));
    this.completing.add(q);
  }

  /** Starts a recording; hand the Recorder to the room's mixer as a TickSink. */
  createRecorder(o: StartRecordingOptions): Recorder {
    if (this.closed) throw new Error('recording service is closed');
    const recorder: Recorder = new Recorder({
      dir: this.options.dir,
      roomId: o.roomId,
      sampleRate: o.sampleRate,
      pauseMode: o.pauseMode ?? this.options.pauseMode ?? 'skip',
      flushIntervalMs: this.options.flushIntervalMs,
      // ffmpeg would write plaintext: encrypted recordings are not post-processed (the config refuses both).
      postProcess: this.options.encryption ? 'none' : (o.postProcess ?? this.options.postProcess),
      postProcessor: this.postProcessor,
      encryption: this.options.encryption,
      stereo: o.stereo,
      stems: o.stems,
      labels: o.labels,
      finalizeSteps: this.finalizeSteps,
      // A mark that cannot be written (a full disk) does not hold the finalization up.
      beforeFinal: (id) => this.marks.begin(id).catch((err: unknown) => this.log.warn({ err, recording: id }, 'finalize mark not written')),
      afterFinalized: (id): Promise<void> => this.unmark(id, recorder.metadataNow),
      log: this.log.child({ room: o.roomId }),
      onClose: (r) => {
        this.recorders.delete(r.id);
        const p = r.whenClosed.finally(() => this.completing.delete(p));
        this.completing.add(p);
        const f = r.finalized.finally(() => this.finalizing.delete(f));
        this.finalizing.add(f);
      },
    });
    this.ours?.add(recorder.id);
    recorder.on('writeError', (f) => {
      this.writeErrorCount++;
      this.safeEmit('writeError', recorder, f);
    });
    recorder.on('writeResumed', (f) => this.safeEmit('writeResumed', recorder, f.file));
    this.recorders.set(recorder.id, recorder);
    this.safeEmit('recorder', recorder);
    return recorder;
  }

  /** Recordings still open, by recording id. */
  get open(): ReadonlyMap<string, Recorder> {
    return this.recorders;
  }

  /**
   * Closes every open recorder (their files complete in the background: await
   * `settled()` before the process exits), then
   * stops post-processing: the running ffmpeg is killed and queued jobs are
   * dropped (their sidecars stay postProcessing 'pending': resumed at the next start). Idempotent.
   */
  /** Uploads stop (synchronous, idempotent): what is not verified yet resumes at the next start. Before the API closes: see RecordingUploader.close(). */
  stopUploads(): void {
    this.options.store?.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of [...this.recorders.values()]) r.close();
    this.recorders.clear();
    this.postProcessor.close();
    this.stopWatchingIo();
    this.options.store?.close();
  }
}


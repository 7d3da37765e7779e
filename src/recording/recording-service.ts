// The parent of all recorders: the only factory of Recorders (one per room
// recording), owner of the post-processing queue, and the place that knows the
// recordings folder and the defaults from config `recording`.
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import type { PauseMode } from './metadata.ts';
import { PostProcessor } from './post-processor.ts';
import { Recorder } from './recorder.ts';

export interface RecordingServiceOptions {
  /** config recording.dir */
  dir: string;
  /** config recording.postProcess */
  postProcess: 'none' | 'ogg' | 'mp3';
  /** config recording.flushIntervalMs */
  flushIntervalMs?: number;
  /** config recording.pauseMode */
  pauseMode?: PauseMode;
  log: Logger;
}

export interface StartRecordingOptions {
  roomId: string;
  /** The room's mixer rate (16000 or 48000). */
  sampleRate: number;
  postProcess?: 'none' | 'ogg' | 'mp3';
  pauseMode?: PauseMode;
  /** Write the stereo file / a stem per leg (default true). */
  stereo?: boolean;
  stems?: boolean;
}

export type RecordingServiceEvents = {
  /** A recorder was created (the control API follows it to 'finalized'). */
  recorder: [recorder: Recorder];
};

export class RecordingService extends TypedEmitter<RecordingServiceEvents> {
  readonly postProcessor: PostProcessor;
  private readonly recorders = new Map<string, Recorder>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly options: RecordingServiceOptions) {
    super(options.log);
    this.log = options.log.child({ component: 'recording' });
    this.postProcessor = new PostProcessor(this.log);
  }

  /** Starts a recording; hand the Recorder to the room's mixer as a TickSink. */
  createRecorder(o: StartRecordingOptions): Recorder {
    if (this.closed) throw new Error('recording service is closed');
    const recorder = new Recorder({
      dir: this.options.dir,
      roomId: o.roomId,
      sampleRate: o.sampleRate,
      pauseMode: o.pauseMode ?? this.options.pauseMode ?? 'skip',
      flushIntervalMs: this.options.flushIntervalMs,
      postProcess: o.postProcess ?? this.options.postProcess,
      postProcessor: this.postProcessor,
      stereo: o.stereo,
      stems: o.stems,
      log: this.log.child({ room: o.roomId }),
      onClose: (r) => this.recorders.delete(r.id),
    });
    this.recorders.set(recorder.id, recorder);
    this.safeEmit('recorder', recorder);
    return recorder;
  }

  /** Recordings still open, by recording id. */
  get open(): ReadonlyMap<string, Recorder> {
    return this.recorders;
  }

  /**
   * Closes every open recorder (their files are complete when this returns), then
   * stops post-processing: the running ffmpeg is killed and queued jobs are
   * dropped (their sidecars say postProcessing 'failed'). Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of [...this.recorders.values()]) r.close();
    this.recorders.clear();
    this.postProcessor.close();
  }
}

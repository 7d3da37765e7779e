// A RecordingHandle over a Recorder that listens to one room's mixer. When the
// recording cannot be written (a full disk) the recorder says so and goes on;
// the call ends only if recording.onWriteError is 'hangup' (`onWriteFailure`).
import { join } from 'node:path';
import type { FrameSource, TickSink } from '../mixer/frames.ts';
import type { MediaRoom } from '../media-plane/media-room.ts';
import { resolveRetention, type RecordingOrigin } from '../recording/compliance/retention-policy.ts';
import { LeadInTrim } from '../recording/lead-in-trim.ts';
import type { TransferNote } from '../recording/metadata.ts';
import type { Logger } from '../util/logger.ts';
import { within } from '../util/within.ts';
import type { Recorder } from '../recording/recorder.ts';
import { recordingRate } from './recording-rate.ts';
import type { CallDeps } from './call-deps.ts';
import type { FlowsConfig, StepConfig } from './flow-types.ts';
import type { RecordingHandle, RecordingOptions } from './ports.ts';

/** How long a call's end waits for its room to play its legs' buffered audio into the recording (a round trip to the media thread). */
const PLAY_OUT_MS = 1000;

export class CallRecording implements RecordingHandle {
  private stopped: Promise<string> | null = null;
  /** Set while the room plays out what its legs still buffered (endCall): stop() waits for it. */
  private playingOut: Promise<void> | null = null;

  /** A recorder for a call's room, labelled with the flow and rule that took the call and the retention that applies. */
  static newRecorder(deps: CallDeps, room: MediaRoom, origin: RecordingOrigin | null, options: RecordingOptions): Recorder {
    return deps.recordings.createRecorder({
      roomId: room.id,
      sampleRate: recordingRate(room, deps.settings),
      stereo: options.stereo,
      stems: options.stems,
      pauseMode: options.pauseMode,
      labels: {
        flow: origin?.flow ?? null,
        rule: origin?.rule ?? null,
        retention: resolveRetention(options.retentionDays, origin, deps.settings.retentionDays ?? null),
        cluster: origin?.cluster ?? null,
      },
    });
  }

  /**
   * Starts `recorder` on `room`; `endCall` runs at the first write failure when recording.onWriteError
   * is 'hangup'. `leadInMs`: the room's legs play that far behind (record-only legs), LeadInTrim.
   */
  static attach(deps: CallDeps, room: MediaRoom, recorder: Recorder, endCall: () => void, leadInMs = 0): CallRecording {
    return new CallRecording(recorder, room, deps.settings.recordingDir, deps.recordings.onWriteError === 'hangup' ? endCall : null, leadInMs);
  }

  /** What the room feeds: the recorder, or a LeadInTrim in front of it. */
  private readonly sink: TickSink;

  constructor(
    readonly recorder: Recorder,
    private readonly room: MediaRoom,
    /** The recordings folder: the sidecar is `<dir>/<id>.json`. */
    private readonly dir: string,
    /** Called once, at the first write failure; null: the call goes on. */
    onWriteFailure: (() => void) | null = null,
    leadInMs = 0,
  ) {
    this.sink = leadInMs > 0 ? new LeadInTrim(recorder, leadInMs) : recorder;
    room.addSink(this.sink);
    if (onWriteFailure) recorder.once('writeError', () => onWriteFailure());
  }

  get id(): string {
    return this.recorder.id;
  }

  pause(): void {
    this.recorder.pause();
  }

  resume(): void {
    this.recorder.resume();
  }

  mask(on: boolean): void {
    if (on) this.recorder.mask();
    else this.recorder.unmask();
  }

  /** A notice played to the whole room (already in the mix): marked in the sidecar. */
  notice(prompt: string): void {
    this.recorder.markNotice(prompt);
  }

  /** A transfer the call went through: the sidecar's `transfers`. */
  transfer(t: TransferNote): void {
    this.recorder.markTransfer(t);
  }

  /**
   * A notice played to `legId` alone: the source to play instead, also written into
   * the recording (Recorder.tapNotice); the sidecar marks its first written frame.
   */
  tapNotice(source: FrameSource, legId: string, prompt: string): FrameSource {
    return this.recorder.tapNotice(source, legId, prompt);
  }

  /**
   * The call ended: what its legs' jitter buffers still hold (a live leg's last 20–100 ms,
   * a leg that left just before too: leg-tails.ts) goes into the recording (MediaRoom.playOut,
   * awaited at most PLAY_OUT_MS), then the recording stops and `closeRoom` runs. A stop()
   * meanwhile waits for the play-out.
   */
  endCall(closeRoom: () => void, log: Logger): void {
    if (this.stopped || this.room.isClosed) {
      void this.stop().catch((err: unknown) => log.error({ err }, 'closing the recording failed'));
      closeRoom();
      return;
    }
    let answered = false;
    const played = within(PLAY_OUT_MS, async () => {
      try {
        await this.room.playOut();
      } catch (err) {
        log.warn({ err }, 'the legs could not be played out to the recording');
      }
      answered = true;
    }).then(() => {
      if (!answered) log.warn({ ms: PLAY_OUT_MS }, 'the room did not play its legs out to the recording in time');
    });
    this.playingOut = played;
    void played.then(() => {
      this.playingOut = null;
      this.stop().catch((err: unknown) => log.error({ err }, 'closing the recording failed'));
      closeRoom();
    });
  }

  /** Closes the recording; resolves once its files are complete and the sidecar is final. */
  stop(): Promise<string> {
    if (this.stopped) return this.stopped;
    if (this.playingOut) {
      this.stopped = this.playingOut.then(() => this.stopNow());
      return this.stopped;
    }
    return this.stopNow();
  }

  private stopNow(): Promise<string> {
    this.room.removeSink(this.sink);
    // The promise, not the event: a stop of Parley may have closed and finalized the recorder already.
    const finalized = this.recorder.finalized.then(() => join(this.dir, `${this.recorder.id}.json`));
    this.recorder.close();
    this.stopped ??= finalized;
    return finalized;
  }
}

/** Whether running `flow` may start a recording: a `record: start` in it or in any flow it can lead to. */
export function flowRecords(flows: FlowsConfig, flow: string): boolean {
  const seen = new Set<string>();
  const todo = [flow];
  for (let name = todo.pop(); name !== undefined; name = todo.pop()) {
    if (seen.has(name)) continue;
    seen.add(name);
    for (const step of flows[name] ?? []) {
      if ('record' in step && step.record.action === 'start') return true;
      if ('siprec' in step) return true;
      todo.push(...nextFlows(step));
    }
  }
  return false;
}

function nextFlows(step: StepConfig): string[] {
  if ('goto' in step) return [step.goto];
  if ('menu' in step) return [...Object.values(step.menu.branches), ...(step.menu.fallback ? [step.menu.fallback] : [])];
  if ('collect' in step) return step.collect.fallback ? [step.collect.fallback] : [];
  if ('bridge' in step) return step.bridge.fallback ? [step.bridge.fallback] : [];
  return [];
}

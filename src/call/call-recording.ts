// A RecordingHandle over a Recorder that listens to one room's mixer.
import { join } from 'node:path';
import type { MediaRoom } from '../media-plane/media-room.ts';
import type { Recorder } from '../recording/recorder.ts';
import type { RecordingHandle } from './ports.ts';

export class CallRecording implements RecordingHandle {
  private stopped: Promise<string> | null = null;

  constructor(
    readonly recorder: Recorder,
    private readonly room: MediaRoom,
    /** The recordings folder: the sidecar is `<dir>/<id>.json`. */
    private readonly dir: string,
  ) {
    room.addSink(recorder);
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

  note(event: string, detail: Record<string, unknown> = {}): void {
    if (event === 'notice') this.recorder.markNotice(String(detail.prompt ?? 'notice'));
  }

  /** Closes the files (complete on return of Recorder.close); resolves once the sidecar is final. */
  stop(): Promise<string> {
    if (this.stopped) return this.stopped;
    this.room.removeSink(this.recorder);
    const finalized = new Promise<string>((resolve) => {
      this.recorder.once('finalized', () => resolve(join(this.dir, `${this.recorder.id}.json`)));
    });
    this.recorder.close();
    this.stopped = finalized;
    return finalized;
  }
}

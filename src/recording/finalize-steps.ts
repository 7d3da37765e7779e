// What runs after a recording is finalized (its sidecar final and hashed), in
// order, once per recording, whether it was finalized by its recorder or
// repaired at start: e.g. signing the sidecar, then uploading it to the bucket.
// A step that throws is logged and the next one still runs; steps are
// responsible for their own retries (the uploader keeps a journal).
import type { Logger } from '../util/logger.ts';
import type { RecordingMetadata } from './metadata.ts';

export interface FinalizedRecording {
  id: string;
  meta: RecordingMetadata;
}

export type FinalizeStep = (r: FinalizedRecording) => Promise<void>;

export class FinalizeSteps {
  private readonly steps: { name: string; run: FinalizeStep }[] = [];

  constructor(private readonly log: Logger) {}

  /** Appends a step (steps run in the order they were added). */
  add(name: string, run: FinalizeStep): void {
    this.steps.push({ name, run });
  }

  get names(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** Never rejects. */
  async run(r: FinalizedRecording): Promise<void> {
    for (const s of this.steps) {
      try {
        await s.run(r);
      } catch (err) {
        this.log.error({ err, recording: r.id, step: s.name }, 'a step after finalizing a recording failed');
      }
    }
  }
}

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

/** Where the known steps go. */
export const FINALIZE_ORDER = { sign: 10, default: 50, upload: 90 } as const;

export type FinalizeStep = (r: FinalizedRecording) => Promise<void>;

export class FinalizeSteps {
  private readonly steps: { name: string; run: FinalizeStep; order: number }[] = [];

  constructor(private readonly log: Logger) {}

  /**
   * Adds a step. Steps run by `order` (then in the order added), whoever adds
   * them first: sign the sidecar (FINALIZE_ORDER.sign) before uploading it (FINALIZE_ORDER.upload).
   */
  add(name: string, run: FinalizeStep, order: number = FINALIZE_ORDER.default): void {
    this.steps.push({ name, run, order });
    this.steps.sort((a, b) => a.order - b.order);
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

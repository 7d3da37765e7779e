// siprec: the built-in flow of a SIPREC recording session (RFC 7866). Answers the
// SRC (a plain SDP answer, recvonly streams), records every stream, the stereo file
// and the mix, and waits until the SRC ends the session. Nothing is played.
import type { SiprecParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';

export class SiprecTask implements Task {
  readonly name = 'siprec';
  private wake: (() => void) | null = null;
  private killed = false;

  constructor(private readonly params: SiprecParams) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    if (ctx.call.ended || this.killed) return { stop: true };
    // Recording first: the SRC streams as soon as it has the 200, and its first packets belong in the files.
    ctx.recording ??= await ctx.call.startRecording({
      // Unset: siprec.stereo / siprec.stems (SiprecCall applies them).
      stereo: this.params.stereo,
      stems: this.params.stems,
      retentionDays: this.params.retention?.days,
    });
    if (ctx.call.ended || this.killed) return { stop: true };
    await ctx.call.answer();
    if (!ctx.call.ended && !this.killed) await new Promise<void>((resolve) => (this.wake = resolve));
    return { stop: true };
  }

  kill(): void {
    this.killed = true;
    this.wake?.();
    this.wake = null;
  }
}

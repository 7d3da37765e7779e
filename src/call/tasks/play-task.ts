// play / say / whisper: a prompt, spoken text or tone to the caller or the room.
// With bargeIn, a key press stops it and the digit waits for the next menu.
import type { PlayHandle } from '../ports.ts';
import type { PlayParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';

export class PlayTask implements Task {
  private handle: PlayHandle | null = null;
  private killed = false;

  constructor(
    readonly name: string,
    private readonly params: PlayParams,
  ) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    // Nothing to play to a call that ended: the session reports its end ('call-ended').
    if (this.killed || ctx.call.ended) return {};
    const { bargeIn = false, target = 'caller', notice = false, ...spec } = this.params;
    // The call marks a notice in its recording, and writes it there when only the caller hears it.
    const handle = ctx.call.play(spec, { target, bargeIn, notice });
    this.handle = handle;
    const onDigit = (d: string): void => {
      if (!bargeIn) return;
      ctx.pendingDigits.push(d);
      handle.stop();
    };
    ctx.call.on('dtmf', onDigit);
    const releaseDigits = bargeIn ? ctx.call.wantDigits() : null;
    try {
      const { reason, error } = await handle.finished;
      if (reason === 'error') {
        // A prompt that cannot be played fails this call, not the process.
        throw new TaskError(`${this.name}: ${error?.message ?? 'playback failed'}`, 500);
      }
      return {};
    } finally {
      ctx.call.off('dtmf', onDigit);
      releaseDigits?.();
      this.handle = null;
    }
  }

  kill(): void {
    this.killed = true;
    this.handle?.stop();
  }
}

/** A failure that ends the call with a SIP status (before answer) or a BYE (after). */
export class TaskError extends Error {
  override name = 'TaskError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

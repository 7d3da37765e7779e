// hangup: a final status before answer (default 480), BYE after.
import type { HangupParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';

export class HangupTask implements Task {
  readonly name = 'hangup';

  constructor(private readonly params: HangupParams) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    if (!ctx.call.ended) ctx.call.hangup(this.params.status, this.params.reason);
    return { stop: true };
  }

  kill(): void {}
}

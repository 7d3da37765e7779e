// transfer: a blind transfer (REFER) of the caller to another URI.
import type { Task, TaskContext, TaskResult } from '../task.ts';

export class TransferTask implements Task {
  readonly name = 'transfer';

  constructor(private readonly to: string) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    if (ctx.call.ended) return { stop: true };
    await ctx.call.transfer(this.to);
    return { stop: true };
  }

  kill(): void {}
}

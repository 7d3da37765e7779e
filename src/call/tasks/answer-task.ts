// answer: 200 OK with Parley's media, or with `early` a 183 with media (the call
// is then answered by a later bridge when the callee answers). Answering an
// answered call does nothing.
import type { Task, TaskContext, TaskResult } from '../task.ts';

export class AnswerTask implements Task {
  readonly name = 'answer';

  constructor(private readonly early = false) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    if (ctx.call.ended) return { stop: true };
    if (!ctx.call.answered) await ctx.call.answer({ early: this.early });
    return {};
  }

  kill(): void {}
}

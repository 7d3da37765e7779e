// answer: 200 OK with Parley's media. Answering an answered call does nothing.
import type { Task, TaskContext, TaskResult } from '../task.ts';

export class AnswerTask implements Task {
  readonly name = 'answer';

  async exec(ctx: TaskContext): Promise<TaskResult> {
    if (ctx.call.ended) return { stop: true };
    if (!ctx.call.answered) await ctx.call.answer();
    return {};
  }

  kill(): void {}
}

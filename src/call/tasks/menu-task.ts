// menu: prompt, digits, branch. A wrong or missing answer plays the invalid
// prompt and offers the menu again, `retries` times; then the fallback flow.
// A prompt or invalidPrompt that cannot be played fails the step, as in `play`.
import type { MenuParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';
import { askWithRetries } from './collect-task.ts';

export class MenuTask implements Task {
  readonly name = 'menu';
  private stopper: (() => void) | null = null;
  private killed = false;

  constructor(private readonly params: MenuParams) {}

  exec(ctx: TaskContext): Promise<TaskResult> {
    const p = this.params;
    const longest = Math.max(...Object.keys(p.branches).map((k) => k.length));
    return askWithRetries(ctx, this.name, p, { maxDigits: longest, ...p }, (s) => void (this.stopper = s), () => this.killed, (got, attempt) => {
      if (ctx.call.ended) return 'stop';
      const next = got.complete ? p.branches[got.digits] : undefined;
      ctx.log.info({ digits: got.digits, end: got.end, attempt, next: next ?? null }, 'menu input');
      if (!next) return null;
      ctx.vars.set(p.into ?? 'menu', got.digits);
      return { next };
    });
  }

  kill(): void {
    this.killed = true;
    this.stopper?.();
  }
}

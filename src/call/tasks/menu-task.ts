// menu: prompt, digits, branch. A wrong or missing answer plays the invalid
// prompt and offers the menu again, `retries` times; then the fallback flow.
// A prompt or invalidPrompt that cannot be played fails the step, as in `play`.
import type { MenuParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';
import { collectDefaults, playInvalidPrompt, promptAndCollect } from './collect-task.ts';

export class MenuTask implements Task {
  readonly name = 'menu';
  private stopper: (() => void) | null = null;
  private killed = false;

  constructor(private readonly params: MenuParams) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    const p = this.params;
    const longest = Math.max(...Object.keys(p.branches).map((k) => k.length));
    const attempts = 1 + (p.retries ?? collectDefaults.retries);
    const register = (s: () => void): void => void (this.stopper = s);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.killed || ctx.call.ended) return { stop: true };
      const got = await promptAndCollect(ctx, this.name, p.prompt, { maxDigits: longest, ...p }, register);
      if (this.killed || ctx.call.ended) return { stop: true };
      const next = got.complete ? p.branches[got.digits] : undefined;
      ctx.log.info({ digits: got.digits, end: got.end, attempt, next: next ?? null }, 'menu input');
      if (next) {
        ctx.vars.set(p.into ?? 'menu', got.digits);
        return { next };
      }
      if (attempt < attempts && p.invalidPrompt) await playInvalidPrompt(ctx, this.name, p.invalidPrompt, register);
    }
    if (p.fallback) return { next: p.fallback };
    ctx.call.hangup();
    return { stop: true };
  }

  kill(): void {
    this.killed = true;
    this.stopper?.();
  }
}

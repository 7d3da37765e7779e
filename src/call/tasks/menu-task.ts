// menu: prompt, digits, branch. A wrong or missing answer plays the invalid
// prompt and offers the menu again, `retries` times; then the fallback flow.
import type { MenuParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';
import { promptAndCollect } from './collect-task.ts';

export class MenuTask implements Task {
  readonly name = 'menu';
  private stopper: (() => void) | null = null;
  private killed = false;

  constructor(private readonly params: MenuParams) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    const p = this.params;
    const longest = Math.max(...Object.keys(p.branches).map((k) => k.length));
    const attempts = 1 + (p.retries ?? 2);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.killed || ctx.call.ended) return { stop: true };
      const got = await promptAndCollect(ctx, p.prompt, { maxDigits: longest, ...p }, (s) => (this.stopper = s));
      if (this.killed || ctx.call.ended) return { stop: true };
      const next = p.branches[got.digits];
      ctx.log.info({ digits: got.digits, end: got.end, attempt, next: next ?? null }, 'menu input');
      if (next) {
        ctx.vars.set(p.into ?? 'menu', got.digits);
        return { next };
      }
      if (attempt < attempts && p.invalidPrompt) {
        const h = ctx.call.play(p.invalidPrompt, { target: 'caller', bargeIn: false });
        this.stopper = () => h.stop();
        await h.finished;
      }
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

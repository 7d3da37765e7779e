// collect: optional prompt, then digits into a session variable.
import { DigitCollector, type Collected } from '../digit-collector.ts';
import type { CollectParams } from '../flow-types.ts';
import type { PlayHandle, PlaySpec } from '../ports.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';

export const collectDefaults = { maxDigits: 1, minDigits: 1, interDigitTimeout: 3, timeout: 8 };

/** Plays `prompt` (interrupted by the first key) and collects; shared by collect and menu. */
export async function promptAndCollect(
  ctx: TaskContext,
  prompt: PlaySpec | undefined,
  params: Omit<CollectParams, 'into' | 'prompt'>,
  register: (stop: () => void) => void,
): Promise<Collected> {
  const collector = new DigitCollector(ctx.call, ctx.pendingDigits, {
    maxDigits: params.maxDigits ?? collectDefaults.maxDigits,
    minDigits: params.minDigits ?? collectDefaults.minDigits,
    terminator: params.terminator,
    interDigitTimeout: (params.interDigitTimeout ?? collectDefaults.interDigitTimeout) * 1000,
    timeout: (params.timeout ?? collectDefaults.timeout) * 1000,
  });
  let handle: PlayHandle | null = null;
  register(() => {
    handle?.stop();
    collector.cancel();
  });
  if (prompt && collector.count === 0) {
    handle = ctx.call.play(prompt, { target: 'caller', bargeIn: true });
    const stopOnKey = (): void => handle?.stop();
    ctx.call.on('dtmf', stopOnKey);
    const settled = await Promise.race([handle.finished, collector.done.then(() => null)]);
    ctx.call.off('dtmf', stopOnKey);
    handle.stop();
    if (settled?.reason === 'error') ctx.log.warn({ err: settled.error }, 'menu prompt failed; collecting anyway');
  }
  collector.arm();
  return collector.done;
}

export class CollectTask implements Task {
  readonly name = 'collect';
  private stopper: (() => void) | null = null;
  private killed = false;

  constructor(private readonly params: CollectParams) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    if (this.killed) return { stop: true };
    const got = await promptAndCollect(ctx, this.params.prompt, this.params, (s) => (this.stopper = s));
    if (got.end === 'ended' && ctx.call.ended) return { stop: true };
    ctx.vars.set(this.params.into, got.digits);
    ctx.log.info({ into: this.params.into, digits: got.digits.length, end: got.end }, 'digits collected');
    return {};
  }

  kill(): void {
    this.killed = true;
    this.stopper?.();
  }
}

// collect: optional prompt, then digits into a session variable. An input shorter
// than minDigits is no answer: like a menu's wrong answer, the invalid prompt plays
// and the prompt is offered again, `retries` times; then the fallback flow, else hang-up.
import { DigitCollector, type Collected } from '../digit-collector.ts';
import type { CollectParams } from '../flow-types.ts';
import type { PlayHandle, PlaySpec } from '../ports.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';
import { TaskError } from './play-task.ts';

export const collectDefaults = { maxDigits: 1, minDigits: 1, interDigitTimeout: 3, timeout: 8, retries: 2 };

/**
 * Plays `prompt` (interrupted by the first key) and collects; shared by collect and menu.
 * A prompt that cannot be played fails the step (TaskError 500), as a `play` step's does.
 */
export async function promptAndCollect(
  ctx: TaskContext,
  step: string,
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
    if (settled?.reason === 'error') {
      collector.cancel();
      throw new TaskError(`${step}: prompt: ${settled.error?.message ?? 'playback failed'}`, 500);
    }
  }
  collector.arm();
  return collector.done;
}

/** Plays a menu's or collect's invalidPrompt to its end; one that cannot be played fails the step. */
export async function playInvalidPrompt(
  ctx: TaskContext,
  step: string,
  spec: PlaySpec,
  register: (stop: () => void) => void,
): Promise<void> {
  const h = ctx.call.play(spec, { target: 'caller', bargeIn: false });
  register(() => h.stop());
  const { reason, error } = await h.finished;
  if (reason === 'error') throw new TaskError(`${step}: invalidPrompt: ${error?.message ?? 'playback failed'}`, 500);
}

/** What menu and collect share: the prompt offered again after a wrong answer, and where the step goes when none came. */
export interface AskParams {
  retries?: number;
  invalidPrompt?: PlaySpec;
  fallback?: string;
}

/**
 * Offers `prompt` and collects, at most 1 + `retries` times: `take` turns an input into the
 * step's result, or null when it is no answer (the invalid prompt plays, the prompt comes
 * again; `stop` after an attempt: the step is over). Then the fallback flow, else a hang-up.
 */
export async function askWithRetries(
  ctx: TaskContext,
  step: string,
  p: AskParams & { prompt?: PlaySpec },
  collect: Omit<CollectParams, 'into' | 'prompt'>,
  register: (stop: () => void) => void,
  killed: () => boolean,
  take: (got: Collected, attempt: number) => TaskResult | 'stop' | null,
): Promise<TaskResult> {
  const attempts = 1 + (p.retries ?? collectDefaults.retries);
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // The call ended under the step (the caller hung up): no result of its own, so the session
    // reports the flow as the call's end ('call-ended'), not as completed, as after a play.
    if (killed() || ctx.call.ended) return {};
    const got = await promptAndCollect(ctx, step, p.prompt, collect, register);
    if (killed() || ctx.call.ended) return {};
    const result = take(got, attempt);
    if (result === 'stop') return { stop: true };
    if (result) return result;
    if (attempt < attempts && p.invalidPrompt) await playInvalidPrompt(ctx, step, p.invalidPrompt, register);
  }
  if (p.fallback) return { next: p.fallback };
  ctx.call.hangup();
  return { stop: true };
}

export class CollectTask implements Task {
  readonly name = 'collect';
  private stopper: (() => void) | null = null;
  private killed = false;

  constructor(private readonly params: CollectParams) {}

  exec(ctx: TaskContext): Promise<TaskResult> {
    const p = this.params;
    return askWithRetries(ctx, this.name, p, p, (s) => void (this.stopper = s), () => this.killed, (got, attempt) => {
      if (got.end === 'ended' && ctx.call.ended) return 'stop';
      ctx.log.info({ into: p.into, digits: got.digits.length, end: got.end, complete: got.complete, attempt }, 'digits collected');
      if (!got.complete) return null;
      ctx.vars.set(p.into, got.digits);
      return {};
    });
  }

  kill(): void {
    this.killed = true;
    this.stopper?.();
  }
}

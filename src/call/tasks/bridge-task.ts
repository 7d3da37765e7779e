// bridge: a B2BUA leg to the original To (or a given URI). The caller and the
// callee are joined once the callee answers (after an optional whisper to the
// callee alone); the step lasts until one side hangs up. A busy, rejecting or
// silent callee runs the fallback flow, or its status goes back to the caller.
import type { BridgeParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';

export const bridgeDefaults = { ringTimeout: 30, identity: 'p-asserted-identity' as const, earlyMedia: true, callerHears: 'ringback' as const, transfers: 'callee' as const, dtmf: 'relay' as const, srtp: 'off' as const };

export class BridgeTask implements Task {
  readonly name = 'bridge';
  private killed = false;

  constructor(private readonly params: BridgeParams) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    const p = this.params;
    if (this.killed || ctx.call.ended) return { stop: true };
    const to = bridgeUri(p.to, ctx);
    const outcome = await ctx.call.bridge({
      to,
      ringTimeout: p.ringTimeout ?? bridgeDefaults.ringTimeout,
      whisper: p.whisper,
      copyHeaders: p.copyHeaders ?? [],
      identity: p.identity ?? bridgeDefaults.identity,
      earlyMedia: p.earlyMedia ?? bridgeDefaults.earlyMedia,
      callerHears: p.callerHears ?? bridgeDefaults.callerHears,
      transfers: p.transfers ?? bridgeDefaults.transfers,
      dtmf: p.dtmf ?? bridgeDefaults.dtmf,
      srtp: p.srtp ?? bridgeDefaults.srtp,
    });
    if (outcome.kind === 'failed') {
      ctx.log.info({ status: outcome.status, reason: outcome.reason }, 'bridge failed');
      ctx.vars.set('bridgeStatus', String(outcome.status));
      if (this.killed || ctx.call.ended) return { stop: true };
      if (p.fallback) return { next: p.fallback };
      // A 3xx not followed (transfers: refuse, a loop) has no Contact to give the caller: 480.
      if (outcome.status >= 300 && outcome.status < 400) ctx.call.hangup(480, 'Temporarily Unavailable');
      else ctx.call.hangup(outcome.status, outcome.reason);
      return { stop: true };
    }
    const endedBy = await outcome.ended;
    ctx.log.info({ endedBy }, 'bridge ended');
    return { stop: true };
  }

  kill(): void {
    this.killed = true;
  }
}

/**
 * The step's URI, or the Request-URI when the step (or else the call's rule) asks for it, or
 * when the original To would only come back to Parley (a step that names no target);
 * undefined: the original To.
 */
function bridgeUri(to: string | undefined, ctx: TaskContext): string | undefined {
  const choice = to ?? ctx.call.bridgeTarget;
  if (choice === 'request-uri') return ctx.call.requestUri;
  if (choice === 'to') {
    if (to === undefined && ctx.call.toLoopsBack) {
      ctx.log.info({ to: ctx.call.originalTo.uri, requestUri: ctx.call.requestUri }, 'the original To points at Parley itself: bridging to the Request-URI');
      return ctx.call.requestUri;
    }
    return undefined;
  }
  return choice;
}

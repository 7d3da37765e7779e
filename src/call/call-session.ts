// A CallSession runs one call's flow: step by step, jumping when a task names
// the next flow, until the flow ends or the call does. When the call ends the
// running task is killed, so that no call hangs on a task that waits forever.
import type { FlowsConfig } from './flow-types.ts';
import type { CallPort, RecordingHandle } from './ports.ts';
import type { Task, TaskContext } from './task.ts';
import { createTask, stepName } from './task-registry.ts';
import { TaskError } from './tasks/play-task.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';

/** Guards against flows that jump between each other forever without waiting on anything. */
const MAX_STEPS = 1000;

export type CallSessionEvents = {
  task: [name: string, flow: string];
  /** Once, when the flow is over (however it ended). */
  done: [outcome: { flow: string; reason: 'completed' | 'call-ended' | 'failed'; error?: Error }];
};

export class CallSession extends TypedEmitter<CallSessionEvents> {
  private current: Task | null = null;
  private readonly ctx: TaskContext;
  private endedReason: string | null = null;
  private stepCount = 0;
  private flowName = '';
  private running = false;
  /** Settles run() without the task that would not stop (see abort()). */
  private aborted: (() => void) | null = null;
  private readonly onEnded = (reason: string): void => {
    this.endedReason = reason;
    this.current?.kill(reason);
  };

  constructor(
    readonly call: CallPort,
    private readonly flows: FlowsConfig,
  ) {
    super(call.log);
    this.ctx = { call, log: call.log, flows, vars: new Map(), pendingDigits: [], recording: null };
    call.on('ended', this.onEnded);
  }

  get vars(): ReadonlyMap<string, string> {
    return this.ctx.vars;
  }

  get recording(): RecordingHandle | null {
    return this.ctx.recording;
  }

  /**
   * Runs `flow` to its end. Never rejects: any throw (an Error or not) ends the call
   * with a status and is reported in 'done'; the recording is closed either way.
   */
  async run(flow: string): Promise<void> {
    if (this.running) return;
    this.running = true;
    let outcome: CallSessionEvents['done'][0];
    const aborted = new Promise<CallSessionEvents['done'][0]>((resolve) => {
      this.aborted = () => resolve({ flow: this.flowName, reason: 'call-ended' });
    });
    try {
      outcome = await Promise.race([this.runFlows(flow), aborted]);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(`a flow threw a non-Error: ${describe(err)}`);
      const status = sipStatusOf(err);
      // A refusal that carries its status (a URI already in the room: 486) is no failure of Parley's.
      if (status === 500) this.call.log.error({ err: error, flow: this.flowName }, 'flow failed; ending the call');
      else this.call.log.info({ flow: this.flowName, status, why: error.message }, 'flow refused the call; ending it');
      // The status goes out with its standard reason phrase (in a BYE's Reason once answered): internal error text stays in the log.
      if (!this.call.ended) this.call.hangup(status);
      outcome = { flow: this.flowName, reason: 'failed', error };
    }
    this.aborted = null;
    this.current?.kill('aborted');
    await this.closeRecording();
    this.call.off('ended', this.onEnded);
    this.current = null;
    this.safeEmit('done', outcome);
  }

  /**
   * Gives up on a flow whose task does not settle although its call has ended (the
   * guard in CallManager calls it): run() settles now, the recording is closed and
   * 'done' is emitted; whatever the task does later is ignored.
   */
  abort(): void {
    this.current?.kill('aborted');
    this.aborted?.();
  }

  private async runFlows(first: string): Promise<CallSessionEvents['done'][0]> {
    let name = first;
    for (;;) {
      const steps = this.flows[name];
      if (!steps) throw new TaskError(`no flow named '${name}'`, 500);
      this.flowName = name;
      let next: string | undefined;
      for (const step of steps) {
        if (this.endedReason !== null || this.call.ended) return { flow: name, reason: 'call-ended' };
        if (++this.stepCount > MAX_STEPS) throw new TaskError(`flow '${name}' ran ${MAX_STEPS} steps: a loop?`, 500);
        if ('goto' in step) {
          next = step.goto;
          break;
        }
        const task = createTask(step);
        this.current = task;
        this.safeEmit('task', stepName(step), name);
        this.call.log.debug({ task: task.name, flow: name }, 'task');
        const result = await task.exec(this.ctx);
        this.current = null;
        if (result.next) {
          next = result.next;
          break;
        }
        if (result.stop) return { flow: name, reason: 'completed' };
      }
      if (!next) {
        // The call ended under the flow's last step (the caller hung up in a closing menu): the
        // flow did not run to its end. Steps that end the call themselves return `stop`.
        if (this.endedReason !== null || this.call.ended) return { flow: name, reason: 'call-ended' };
        // The end of a flow ends the call, as in jambonz: nothing is left to do with it.
        if (!this.call.ended) this.call.hangup();
        return { flow: name, reason: 'completed' };
      }
      name = next;
    }
  }

  private async closeRecording(): Promise<void> {
    const rec = this.ctx.recording;
    this.ctx.recording = null;
    if (!rec) return;
    try {
      await rec.stop();
    } catch (err) {
      this.call.log.error({ err }, 'closing the recording failed');
    }
  }
}

/** A TaskError's status, or a SIP status an error carries (a refused conference join: 486); else 500. */
function sipStatusOf(err: unknown): number {
  if (err instanceof TaskError) return err.status;
  const carried = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  return typeof carried === 'number' && carried >= 400 && carried <= 699 ? carried : 500;
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? value.slice(0, 200) : (JSON.stringify(value) ?? String(value)).slice(0, 200);
  } catch {
    return String(value);
  }
}

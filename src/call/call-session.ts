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

  /** Runs `flow` to its end. Never rejects: failures end the call with a status and are reported in 'done'. */
  async run(flow: string): Promise<void> {
    let outcome: CallSessionEvents['done'][0];
    try {
      outcome = await this.runFlows(flow);
    } catch (err) {
      const error = err as Error;
      // A TaskError, or any error that carries a SIP status (a refused conference join: 486).
      const carried = (err as { status?: unknown }).status;
      const status = err instanceof TaskError ? err.status : typeof carried === 'number' ? carried : 500;
      this.call.log.error({ err: error, flow: this.flowName }, 'flow failed; ending the call');
      // The status's standard phrase: internal error text (paths, errno) never goes on the wire.
      if (!this.call.ended) this.call.hangup(status);
      outcome = { flow: this.flowName, reason: 'failed', error };
    }
    await this.closeRecording();
    this.call.off('ended', this.onEnded);
    this.current = null;
    this.safeEmit('done', outcome);
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

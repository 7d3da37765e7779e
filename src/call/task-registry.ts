// Builds a Task from one step of a flow. The config schema has already checked
// the parameters; this only maps names to classes.
import type { StepConfig } from './flow-types.ts';
import type { Task } from './task.ts';
import { AnswerTask } from './tasks/answer-task.ts';
import { BridgeTask } from './tasks/bridge-task.ts';
import { CollectTask } from './tasks/collect-task.ts';
import { ConferenceTask } from './tasks/conference-task.ts';
import { HangupTask } from './tasks/hangup-task.ts';
import { MenuTask } from './tasks/menu-task.ts';
import { PlayTask } from './tasks/play-task.ts';
import { RecordTask } from './tasks/record-task.ts';
import { SiprecTask } from './tasks/siprec-task.ts';
import { TransferTask } from './tasks/transfer-task.ts';

type Factory = (params: never) => Task;

const factories: Record<string, Factory> = {
  answer: (p: StepParams<'answer'>) => new AnswerTask(p?.early ?? false),
  play: (p: StepParams<'play'>) => new PlayTask('play', p),
  say: (p: StepParams<'say'>) => new PlayTask('say', p),
  whisper: (p: StepParams<'whisper'>) => new PlayTask('whisper', { ...p, target: 'caller' }),
  menu: (p: StepParams<'menu'>) => new MenuTask(p),
  collect: (p: StepParams<'collect'>) => new CollectTask(p),
  record: (p: StepParams<'record'>) => new RecordTask(p),
  bridge: (p: StepParams<'bridge'>) => new BridgeTask(p ?? {}),
  conference: (p: StepParams<'conference'>) => new ConferenceTask(p),
  transfer: (p: StepParams<'transfer'>) => new TransferTask(p.to),
  hangup: (p: StepParams<'hangup'>) => new HangupTask(p ?? {}),
  siprec: (p: StepParams<'siprec'>) => new SiprecTask(p ?? {}),
};

type StepParams<K extends string> = Extract<StepConfig, Record<K, unknown>>[K & keyof Extract<StepConfig, Record<K, unknown>>];

export const taskNames = [...Object.keys(factories), 'goto'];

/** A step's task name and parameters. */
export function stepName(step: StepConfig): string {
  const [name] = Object.keys(step);
  if (!name) throw new Error('empty step');
  return name;
}

export function createTask(step: StepConfig): Task {
  const name = stepName(step);
  const factory = factories[name];
  if (!factory) throw new Error(`unknown task '${name}'`);
  return factory((step as Record<string, unknown>)[name] as never);
}

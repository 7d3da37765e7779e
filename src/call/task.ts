// A Task is one step of a flow: exec() runs it to its end, kill() stops it early
// (the caller hung up, the session is closing). A task may name the flow to run
// next (a menu branch, a bridge's fallback).
import type { CallPort, RecordingHandle } from './ports.ts';
import type { FlowsConfig } from './flow-types.ts';
import type { Logger } from '../util/logger.ts';

export interface TaskResult {
  /** Run this flow next instead of the following step. */
  next?: string;
  /** End the flow here (the call was handed off or hung up). */
  stop?: boolean;
}

/** What a task may read and change while it runs; one per call. */
export interface TaskContext {
  readonly call: CallPort;
  readonly log: Logger;
  readonly flows: FlowsConfig;
  /** Session variables: digits collected, the last menu choice, … */
  readonly vars: Map<string, string>;
  /** Digits pressed while nothing was collecting (type-ahead, barge-in): menus read them first. */
  readonly pendingDigits: string[];
  recording: RecordingHandle | null;
}

export interface Task {
  readonly name: string;
  exec(ctx: TaskContext): Promise<TaskResult>;
  /** Idempotent; exec() then settles promptly. */
  kill(reason: string): void;
}

// The parent side of bench/load-peers.ts: forks the generator as its own
// process(es) (their CPU is never counted as the server's) and drives them over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GridSummary } from './arrival-grid.ts';

export interface RtpTarget {
  host: string;
  port: number;
}

export type GeneratorRequest =
  | { cmd: 'bind'; n: number; k: number; maxSeconds: number }
  | { cmd: 'connect'; targets: RtpTarget[] }
  | { cmd: 'run'; seconds: number }
  | { cmd: 'exit' };

export interface GeneratorReply {
  /** Packets each leg received during the run. */
  received: number[];
  /** Each leg's late/missing frame accounting (see arrival-grid.ts). */
  grids: GridSummary[];
  /** Click sent → first loud mixed packet received in the same room, in ms. */
  latencies: number[];
  /** Clicks nobody in the room heard within a second. */
  clicksLost: number;
  /** The busiest generator process's CPU over the run (one process: its CPU). */
  generatorCpuMs: number;
  /** All generator processes' CPU (set when merged from several). */
  generatorCpuMsTotal?: number;
  /** How many processes generated the load (set when merged). */
  processes?: number;
  /**
   * The generator's own lateness: how late its 20 ms send timer fired (99th
   * percentile and largest, ms), and its event loop's delay (monitorEventLoopDelay,
   * 99th percentile and largest, ms). Arrivals are stamped in the event loop, so a
   * loop that is late by more than a frame makes frames look late whatever the server did.
   */
  sendLagP99Ms: number;
  sendLagMaxMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Legs one generator process takes before the load is split over more (one process used most of a core at ~960). */
const LEGS_PER_PROCESS = 400;

/**
 * How many generator processes carry n legs: BENCH_GEN_PROCS when set, else one
 * per LEGS_PER_PROCESS legs, at most one per core.
 */
export function generatorProcesses(n: number, cores = availableParallelism(), env = process.env.BENCH_GEN_PROCS): number {
  if (env !== undefined && env !== '') {
    const v = Number(env);
    if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_GEN_PROCS must be a whole number ≥ 1 (got ${JSON.stringify(env)})`);
    return v;
  }
  return Math.max(1, Math.min(cores, Math.ceil(n / LEGS_PER_PROCESS)));
}

/** Whole rooms per process: rooms r of `rooms` split as evenly as possible over p processes. */
export function splitRooms(rooms: number, p: number): number[] {
  const parts = Math.min(p, Math.max(1, rooms));
  return Array.from({ length: parts }, (_, i) => Math.floor(rooms / parts) + (i < rooms % parts ? 1 : 0));
}

/**
 * Merges the processes' replies, in leg order. The lateness figures and the CPU
 * are the busiest process's: a generator is near its limit when any of its
 * processes is (generatorCpuMs is that process's, so "percent of a core" keeps
 * its meaning); generatorCpuMsTotal is all of them.
 */
export function mergeReplies(replies: GeneratorReply[]): GeneratorReply {
  return {
    received: replies.flatMap((r) => r.received),
    grids: replies.flatMap((r) => r.grids),
    latencies: replies.flatMap((r) => r.latencies),
    clicksLost: replies.reduce((s, r) => s + r.clicksLost, 0),
    generatorCpuMs: Math.max(...replies.map((r) => r.generatorCpuMs)),
    generatorCpuMsTotal: replies.reduce((s, r) => s + (r.generatorCpuMsTotal ?? r.generatorCpuMs), 0),
    processes: replies.length,
    sendLagP99Ms: Math.max(...replies.map((r) => r.sendLagP99Ms)),
    sendLagMaxMs: Math.max(...replies.map((r) => r.sendLagMaxMs)),
    loopDelayP99Ms: Math.max(...replies.map((r) => r.loopDelayP99Ms)),
    loopDelayMaxMs: Math.max(...replies.map((r) => r.loopDelayMaxMs)),
  };
}

/** One forked generator process (bench/load-peers.ts) and its legs. */
class GeneratorProcess {
  private closed = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly ports: number[],
  ) {
    // A send racing the child's exit must not crash the bench.
    child.on('error', () => {});
  }

  static async start(n: number, k: number, maxSeconds: number): Promise<GeneratorProcess> {
    const child = fork(join(here, '..', 'load-peers.ts'), [], { execArgv: ['--import', 'tsx'] });
    const { ports } = await ask<{ ports: number[] }>(child, { cmd: 'bind', n, k, maxSeconds });
    return new GeneratorProcess(child, ports);
  }

  async connect(targets: RtpTarget[]): Promise<void> {
    await ask(this.child, { cmd: 'connect', targets });
  }

  run(seconds: number): Promise<GeneratorReply> {
    return ask<GeneratorReply>(this.child, { cmd: 'run', seconds });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.child.connected) this.child.send({ cmd: 'exit' } satisfies GeneratorRequest);
    else this.child.kill();
  }
}

/**
 * The load generator: one or more processes (generatorProcesses), each with
 * whole rooms, so a ramp is not held back by one Node process's limit. Leg i is
 * in room floor(i / k) whatever the split.
 */
export class LoadGenerator {
  private constructor(private readonly procs: GeneratorProcess[]) {}

  /** Forks the generator(s) and binds n legs in rooms of k; maxSeconds sizes the per-leg arrival records. */
  static async start(n: number, k: number, maxSeconds: number, processes = generatorProcesses(n)): Promise<LoadGenerator> {
    const rooms = Math.ceil(n / k);
    const split = splitRooms(rooms, processes);
    const procs: GeneratorProcess[] = [];
    try {
      let left = n;
      for (const r of split) {
        const legs = Math.min(left, r * k);
        left -= legs;
        procs.push(await GeneratorProcess.start(legs, k, maxSeconds));
      }
    } catch (err) {
      for (const p of procs) p.close();
      throw err;
    }
    return new LoadGenerator(procs);
  }

  /** The legs' own RTP ports on 127.0.0.1, leg i in room floor(i / k). */
  get ports(): number[] {
    return this.procs.flatMap((p) => p.ports);
  }

  get processes(): number {
    return this.procs.length;
  }

  /** Where each leg sends its RTP (same order as ports). */
  async connect(targets: RtpTarget[]): Promise<void> {
    let at = 0;
    await Promise.all(this.procs.map((p) => {
      const mine = targets.slice(at, at + p.ports.length);
      at += p.ports.length;
      return p.connect(mine);
    }));
  }

  async run(seconds: number): Promise<GeneratorReply> {
    return mergeReplies(await Promise.all(this.procs.map((p) => p.run(seconds))));
  }

  /** Idempotent. */
  close(): void {
    for (const p of this.procs) p.close();
  }
}

function ask<T>(child: ChildProcess, msg: GeneratorRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`load generator exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as T);
    });
    child.send(msg);
  });
}

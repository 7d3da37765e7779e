// The parent side of bench/load-peers.ts: forks the generator as its own
// process (its CPU is never counted as the server's) and drives it over IPC.
import { fork, type ChildProcess } from 'node:child_process';
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
  generatorCpuMs: number;
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

export class LoadGenerator {
  private closed = false;

  private constructor(
    private readonly child: ChildProcess,
    /** The legs' own RTP ports on 127.0.0.1, leg i in room floor(i / k). */
    readonly ports: number[],
  ) {
    // A send racing the child's exit must not crash the bench.
    child.on('error', () => {});
  }

  /** Forks the generator and binds n legs in rooms of k; maxSeconds sizes the per-leg arrival records. */
  static async start(n: number, k: number, maxSeconds: number): Promise<LoadGenerator> {
    const child = fork(join(here, '..', 'load-peers.ts'), [], { execArgv: ['--import', 'tsx'] });
    const { ports } = await ask<{ ports: number[] }>(child, { cmd: 'bind', n, k, maxSeconds });
    return new LoadGenerator(child, ports);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Where each leg sends its RTP (same order as ports). */
  async connect(targets: RtpTarget[]): Promise<void> {
    await ask(this.child, { cmd: 'connect', targets });
  }

  run(seconds: number): Promise<GeneratorReply> {
    return ask<GeneratorReply>(this.child, { cmd: 'run', seconds });
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.child.connected) this.child.send({ cmd: 'exit' } satisfies GeneratorRequest);
    else this.child.kill();
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

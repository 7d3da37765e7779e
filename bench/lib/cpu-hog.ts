// The "busy machine" of bench:calls' hog variant: a separate Node process whose worker
// threads spin, one per core, at nice 0, while a step runs. Its CPU is never counted as
// the server's; how much it got is reported, to show that the cores were contended.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism, setPriority } from 'node:os';
import { procCpuMs } from './proc-cpu.ts';

const SPIN = `
const { Worker, isMainThread } = require('node:worker_threads');
const n = Number(process.argv[1]);
for (let i = 0; i < n; i++) new Worker('for (;;) {}', { eval: true });
process.on('disconnect', () => process.exit(0));
setInterval(() => {}, 1 << 30);
`;

export class CpuHog {
  private closed = false;
  private readonly cpu0: number;
  private readonly t0 = performance.now();

  private constructor(private readonly child: ChildProcess) {
    this.cpu0 = procCpuMs(child.pid!);
  }

  /** Starts `threads` spinning threads (default: one per core). */
  static async start(threads = availableParallelism()): Promise<CpuHog> {
    const child = spawn(process.execPath, ['-e', SPIN, String(threads)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('error', () => {});
    await once(child, 'spawn');
    try {
      // nice 0 whatever the bench runs at: it competes with the server as an equal.
      setPriority(child.pid!, 0);
    } catch {
      // Not allowed to raise it (not root, bench niced): it stays at the bench's niceness.
    }
    // Let the threads start spinning before the step's first call.
    await new Promise((r) => setTimeout(r, 300));
    return new CpuHog(child);
  }

  /** Percent of one core the hog got since it started (200 = two cores' worth). */
  percentOfOneCore(): number {
    const ms = procCpuMs(this.child.pid!) - this.cpu0;
    return Math.round((1000 * ms) / (performance.now() - this.t0)) / 10;
  }

  /** Sync and idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.child.kill('SIGKILL');
  }
}

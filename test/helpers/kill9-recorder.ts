// Runs record-tone-child.ts (a RecordingService recording a 440 Hz leg in real
// time) in its own process and kills it with SIGKILL once it has recorded
// `afterMs`: the kill -9 set-up of the recording tests. sentMs is what the child had
// written by its own count when it was stopped.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface Killed9Recorder {
  /** The recording's files, as the child named them when it started. */
  files: string[];
  /** Seconds from the child's 'started' line to the kill (this process's clock: late on a loaded machine). */
  killedAfter: number;
  /**
   * The audio the child had written when it was stopped, in ms, by its own count of ticks (its
   * last report before the stop): what a loss is measured against, whatever the machine's load.
   */
  sentMs: number;
  /** The signal the child died of (SIGKILL unless something else ended it first). */
  signal: NodeJS.Signals | null;
}

/**
 * `env` is added to the child's environment (TEST_MASTER_KEY: the recording is encrypted).
 * Once the child reports `afterMs` written, it is stopped (SIGSTOP: nothing more reaches the
 * disk, as with the kill), its last reports are read, and it is killed with SIGKILL.
 */
export async function recordThenKill9(dir: string, afterMs: number, env: Record<string, string> = {}): Promise<Killed9Recorder> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'record-tone-child.ts'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, REPORT_EVERY_TICK: '1', ...env },
  });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
  let startedAt = 0;
  let files: string[] = [];
  let sentMs = 0;
  let stopping = false;
  const lines = createInterface({ input: child.stdout });
  const killedAfter = await new Promise<number>((resolve, reject) => {
    child.on('exit', () => reject(new Error('child exited before being killed')));
    lines.on('line', (line) => {
      const m = JSON.parse(line) as { event: string; ms?: number; files?: string[] };
      if (m.event === 'started' && startedAt === 0) {
        startedAt = performance.now();
        files = m.files ?? [];
      }
      if ((m.event === 'progress' || m.event === 'sent') && m.ms !== undefined) sentMs = Math.max(sentMs, m.ms);
      if (m.event === 'progress' && (m.ms ?? 0) >= afterMs && startedAt > 0 && !stopping) {
        stopping = true;
        child.kill('SIGSTOP');
        resolve((performance.now() - startedAt) / 1000);
      }
    });
  });
  // The child is stopped once /proc says so; then what it wrote to the pipe before is read
  // (two turns of the event loop: a poll phase between them) before the kill.
  await stopped(child.pid!);
  await new Promise((r) => setImmediate(() => setImmediate(r)));
  child.kill('SIGKILL');
  const signal = await exited;
  lines.close();
  return { files, killedAfter, sentMs, signal };
}

/** Resolves when /proc/<pid>/stat shows the process stopped (state T). */
async function stopped(pid: number): Promise<void> {
  for (;;) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

// Runs record-tone-child.ts (a RecordingService recording a 440 Hz leg in real
// time) in its own process and kills it with SIGKILL once it has recorded
// `afterMs`: the kill -9 set-up of the recording tests.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface Killed9Recorder {
  /** The recording's files, as the child named them when it started. */
  files: string[];
  /** Seconds from the child's 'started' line to the kill. */
  killedAfter: number;
  /** The signal the child died of (SIGKILL unless something else ended it first). */
  signal: NodeJS.Signals | null;
}

/** `env` is added to the child's environment (TEST_MASTER_KEY: the recording is encrypted). */
export async function recordThenKill9(dir: string, afterMs: number, env: Record<string, string> = {}): Promise<Killed9Recorder> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'record-tone-child.ts'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
  let startedAt = 0;
  let files: string[] = [];
  const lines = createInterface({ input: child.stdout });
  const killedAfter = await new Promise<number>((resolve, reject) => {
    child.on('exit', () => reject(new Error('child exited before being killed')));
    lines.on('line', (line) => {
      const m = JSON.parse(line) as { event: string; ms?: number; files?: string[] };
      if (m.event === 'started' && startedAt === 0) {
        startedAt = performance.now();
        files = m.files ?? [];
      }
      if (m.event === 'progress' && (m.ms ?? 0) >= afterMs && startedAt > 0) {
        child.kill('SIGKILL');
        resolve((performance.now() - startedAt) / 1000);
      }
    });
  });
  return { files, killedAfter, signal: await exited };
}

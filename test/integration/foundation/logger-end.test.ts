// endLogger (src/util/logger.ts) ends a pretty logger's output before a process's last plain
// words. A start-up that failed before pino-pretty's thread was ready (at once, or on a busy
// machine) ended the process while it waited: the thread, unref'd by pino once ready, held
// nothing up, so `parley start` exited 0 with no "cannot start" line (seen under load in
// start-failures' log.pretty case). Here a process logs one line and ends its logger at
// once, as such a start-up does: it must get to the words after it and its own exit code.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const logger = pathToFileURL(resolve('src/util/logger.ts')).href;

async function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('endLogger on a pretty logger whose thread is still starting', () => {
  it('waits for its lines, then the process goes on to its last words and its exit code (3 runs)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-logger-end-'));
    const script = join(dir, 'end-at-once.mts');
    writeFileSync(
      script,
      `import { createLogger, endLogger } from ${JSON.stringify(logger)};
const log = createLogger({ level: 'info', pretty: true });
log.fatal('start-up failed');
await endLogger(log);
process.stderr.write('the last words\\n');
process.exitCode = 3;
`,
    );
    for (let i = 0; i < 3; i++) {
      const r = await run(script);
      // Without the hold: exit code 13 (a top-level await left unsettled: the event loop emptied).
      assert.equal(r.code, 3, `run ${i}: exit code ${r.code}, stderr: ${r.stderr}`);
      assert.equal(r.stderr, 'the last words\n', `run ${i}`);
      assert.match(r.stdout, /FATAL.*start-up failed/, `run ${i}: the pretty line was written before`);
    }
  });
});

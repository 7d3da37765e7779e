// The test helper's real drachtio-server (test/helpers/real-drachtio.ts) after a test that failed
// before closing it: the test process still ends by itself, and the server does not outlive it.
// Only with PARLEY_DRACHTIO_BIN (a built drachtio-server); skipped otherwise.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DRACHTIO_BIN } from '../../helpers/real-drachtio.ts';

const HELPER = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../helpers/real-drachtio.ts');

/** Running, not a zombie (a killed server whose parent is gone may wait here for a reaper). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s*Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('a real drachtio-server nobody closed', { skip: !DRACHTIO_BIN && 'needs PARLEY_DRACHTIO_BIN' }, () => {
  it('neither keeps the test process running nor outlives it', async () => {
    // A process that starts a server and never closes it (as a test that threw before its after hook).
    const script = `const { spawnRealDrachtio } = await import(${JSON.stringify(HELPER)}); const s = await spawnRealDrachtio(); console.log('pid ' + s.pid);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = once(child, 'exit');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = (await exited) as [number | null, string | null];
    clearTimeout(timer);
    const pid = Number(/pid (\d+)/.exec(out)?.[1]);
    assert.ok(pid > 0, `the server started: ${out}`);
    try {
      assert.equal(signal, null, 'the process ended by itself (not killed after 20 s)');
      assert.equal(code, 0);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(alive(pid), false, 'the server is gone with it');
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});

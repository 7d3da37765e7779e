// `parley calls` / `rooms` / `recordings` when they cannot work, as a new user meets them:
// the API is off in the config (the shipped parley.yaml), nothing answers at api.port,
// or the running Parley has another token. Each error says what to do.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../../helpers/free-port.ts';
import { spawnParley } from '../../helpers/parley-process.ts';

function writeConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'parley-cli-')), 'parley.yaml');
  writeFileSync(file, text);
  return file;
}

async function parley(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

describe('parley calls/rooms/recordings: errors that say what to do', () => {
  it('the API is off in the config: exit 2, names the keys to set', async () => {
    const r = await parley('rooms', '--config', writeConfig('log: { level: silent }\n'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^parley rooms: the control API is off in this config: set api\.enabled: true and api\.token .*restart Parley/);
    assert.match(r.stderr, /--config FILE or \$PARLEY_CONFIG/, 'which file it read, and how to name the running one');
  });

  it('nothing answers at api.port: asks whether Parley runs with this config', async () => {
    const port = await freePort();
    const r = await parley('calls', '--config', writeConfig(`api: { enabled: true, port: ${port}, token: cli-errors-token-0123 }\n`));
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach Parley's API at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*is Parley running with this config`));
  });

  it('the running Parley has another token: says so on the 401', async () => {
    const port = await freePort();
    const p = await spawnParley(`api: { enabled: true, host: 127.0.0.1, port: ${port}, token: the-running-token-0123 }`);
    try {
      await p.logged(/Parley is running/);
      const r = await parley('recordings', '--config', writeConfig(`api: { enabled: true, port: ${port}, token: another-token-456789 }\n`));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /GET \/recordings.*: 401 .*\(the running Parley has another api\.token than this config\)/);
    } finally {
      p.child.kill('SIGINT');
      await once(p.child, 'exit');
    }
  });
});

// The recordings folder's lock (.parley/parley.pid): held by a live Parley it refuses a
// second one; left by a dead process, or naming a pid some other program holds now (after
// a reboot), it is taken over.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lockRecordingDir, RecordingDirInUseError } from '../../../src/recording/dir-lock.ts';

const root = mkdtempSync(join(tmpdir(), 'parley-dirlock-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

function folderLockedBy(name: string, pid: number): { dir: string; state: string } {
  const dir = join(root, name);
  const state = join(dir, '.parley');
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, 'parley.pid'), `${pid}\n`);
  return { dir, state };
}

async function started(cmd: string, args: string[]): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  return c;
}

describe('recording.dir lock', () => {
  it('refuses a folder a live node process holds, naming the folder and the pid', async () => {
    const holder = await started(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const { dir, state } = folderLockedBy('live', holder.pid!);
    await assert.rejects(lockRecordingDir(dir, state), (err: unknown) => err instanceof RecordingDirInUseError && err.pid === holder.pid && err.message.includes(dir));
    assert.equal(readFileSync(join(state, 'parley.pid'), 'utf8'), `${holder.pid}\n`, 'the holder keeps its lock');
  });

  it('takes over a lock whose pid another program holds now (not node: a reboot reused the pid)', async () => {
    const other = await started('sleep', ['60']);
    const { dir, state } = folderLockedBy('reused', other.pid!);
    const lock = await lockRecordingDir(dir, state);
    assert.equal(readFileSync(lock.file, 'utf8'), `${process.pid}\n`);
    await lock.release();
  });

  it('takes over a lock left by a process that is gone, and releases only its own', async () => {
    const gone = await started('true', []);
    await new Promise((r) => gone.once('exit', r));
    const { dir, state } = folderLockedBy('dead', gone.pid!);
    const lock = await lockRecordingDir(dir, state);
    assert.equal(readFileSync(lock.file, 'utf8'), `${process.pid}\n`);
    writeFileSync(lock.file, '999999999\n'); // taken over by someone else since
    await lock.release();
    assert.equal(readFileSync(lock.file, 'utf8'), '999999999\n');
  });
});

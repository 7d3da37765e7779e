// The recording path makes no synchronous file call on the event loop: a whole
// recording (create, 2 s of audio with flushes and sidecar refreshes, close,
// finalize) runs in a child process under strace, and not one system call on a
// recording file comes from the main thread: every open, write, rename, fsync
// and truncate runs in the recording I/O thread (or libuv's threadpool). Skipped
// without strace.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = mkdtempSync(join(tmpdir(), 'parley-nosync-'));
after(() => rmSync(root, { recursive: true, force: true }));

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('recording file I/O', () => {
  for (const encrypted of [false, true]) {
    it(`never runs on the main thread (strace: every file syscall on the threadpool)${encrypted ? ', encrypted' : ''}`, (t) => {
      if (!hasStrace()) return t.skip('strace is not installed');
      const dir = join(root, encrypted ? 'enc' : 'rec');
      const trace = join(root, 'trace');
      const child = join(import.meta.dirname, '../../helpers/record-tone-child.ts');
      const r = spawnSync(
        'strace',
        ['-f', '-qq', '-e', 'trace=openat,write,pwrite64,pwritev,rename,renameat,renameat2,fsync,fdatasync,ftruncate,unlink', '-o', trace, process.execPath, '--import', 'tsx', child, dir, '2000'],
        { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...(encrypted ? { TEST_MASTER_KEY: 'ab'.repeat(32) } : {}) } },
      );
      assert.match(r.stdout, /"event":"finalized"/, `the child finished its recording: ${r.stderr.slice(-500)}`);
      const lines = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
      const mainTid = lines[0]!.split(' ')[0];
      // Calls naming a recording file, and positional writes, syncs and truncates on any descriptor but stdio.
      const onRecording = lines.filter((l) => l.includes(dir) || Number(/^\d+\s+(?:pwrite64|pwritev|fsync|fdatasync|ftruncate)\((\d+)/.exec(l)?.[1] ?? -1) > 2);
      assert.ok(onRecording.length > 20, `the recording did its I/O (${onRecording.length} calls)`);
      const onMain = onRecording.filter((l) => l.startsWith(`${mainTid} `));
      assert.deepEqual(onMain, [], 'no recording file syscall on the main thread');
      if (encrypted) assert.ok(lines.some((l) => l.includes(`${dir}/`) && l.includes('.key')), 'the key file was written');
    });
  }
});

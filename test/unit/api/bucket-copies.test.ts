// BucketCopies (src/api/bucket-copies.ts): downloads at once share one fill, a copy is
// reused while the ETag holds and fetched again when it changes, a failed fill is
// nobody's, copies past maxBytes go when unused, close() removes them all at once;
// their folder is named after the process, and a start removes those of processes gone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { BucketCopies, CopiesBusyError, type CopyFilled } from '../../../src/api/bucket-copies.ts';
import { removeAbandonedCopies } from '../../../src/api/copies-folder.ts';
import { silentLogger } from '../../../src/util/logger.ts';

function filler(content: string, etag: string | null): { fills: number; fill: (path: string) => Promise<CopyFilled> } {
  const f = {
    fills: 0,
    fill: async (path: string): Promise<CopyFilled> => {
      f.fills++;
      await writeFile(path, content);
      return { sha256: `sha-${content}`, etag, size: content.length };
    },
  };
  return f;
}

/** Resolves when `path` is gone (removal runs in the background). */
async function gone(path: string): Promise<void> {
  while (existsSync(path)) await new Promise((r) => setImmediate(r));
}

describe('BucketCopies', () => {
  it('downloads at once share one fill; a later one reuses the copy while the ETag holds', async () => {
    const c = new BucketCopies();
    const f = filler('abc', 'e1');
    const [a, b] = await Promise.all([c.acquire('k', 'e1', f.fill), c.acquire('k', 'e1', f.fill)]);
    assert.equal(f.fills, 1);
    assert.equal(a.path, b.path);
    assert.equal(readFileSync(a.path, 'utf8'), 'abc');
    a.release();
    b.release();
    const again = await c.acquire('k', 'e1', f.fill);
    assert.equal(f.fills, 1, 'kept after its last download');
    assert.equal(again.sha256, 'sha-abc');
    again.release();
    c.close();
    await gone(a.path);
  });

  it('another ETag is fetched again; the old copy goes once its download ends', async () => {
    const c = new BucketCopies();
    const old = await c.acquire('k', 'e1', filler('old', 'e1').fill);
    const f2 = filler('new', 'e2');
    const fresh = await c.acquire('k', 'e2', f2.fill);
    assert.equal(f2.fills, 1);
    assert.notEqual(fresh.path, old.path);
    assert.equal(readFileSync(old.path, 'utf8'), 'old', 'still read by its download');
    old.release();
    await gone(old.path);
    fresh.release();
    c.close();
    await gone(fresh.path);
  });

  it('a failed fill is kept by nobody: the next download fills again', async () => {
    const c = new BucketCopies();
    await assert.rejects(c.acquire('k', 'e1', async () => Promise.reject(new Error('bucket down'))), /bucket down/);
    assert.equal(c.size, 0);
    const f = filler('x', 'e1');
    (await c.acquire('k', 'e1', f.fill)).release();
    assert.equal(f.fills, 1);
    c.close();
  });

  it('close() removes every copy at once, one still in use too (the process may exit right behind it)', async () => {
    const c = new BucketCopies();
    const idle = await c.acquire('a', 'ea', filler('aaa', 'ea').fill);
    idle.release();
    const busy = await c.acquire('b', 'eb', filler('bbb', 'eb').fill);
    c.close();
    assert.equal(existsSync(idle.path), false);
    assert.equal(existsSync(busy.path), false);
    busy.release();
    assert.equal(c.size, 0);
  });

  it('no ETag: never kept; past maxBytes the unused copies go, least recently used first', async () => {
    const c = new BucketCopies({ maxBytes: 5 });
    const n = await c.acquire('k0', null, filler('zz', null).fill);
    n.release();
    await gone(n.path);
    const a = await c.acquire('a', 'ea', filler('aaa', 'ea').fill);
    a.release();
    const b = await c.acquire('b', 'eb', filler('bbb', 'eb').fill);
    b.release();
    await gone(a.path);
    assert.ok(existsSync(b.path), 'the last used stays');
    assert.equal(c.size, 1);
    c.close();
    await gone(b.path);
  });
});

describe('BucketCopies limitBytes', () => {
  it('a new copy past the bound while others are in use is refused; unused ones make room; one alone always fits', async () => {
    const c = new BucketCopies({ limitBytes: 5 });
    const big = await c.acquire('big', 'e0', filler('0123456789', 'e0').fill, 10);
    assert.equal(c.bytesOnDisk, 10, 'alone on disk, a copy past the bound is allowed');
    await assert.rejects(c.acquire('a', 'ea', filler('aaa', 'ea').fill, 3), CopiesBusyError);
    assert.equal(readFileSync(big.path, 'utf8'), '0123456789', 'the copy in use is untouched');
    big.release();
    const a = await c.acquire('a', 'ea', filler('aaa', 'ea').fill, 3);
    assert.equal(c.bytesOnDisk, 3, 'the unused copy went to make room');
    await gone(big.path);
    const f = filler('bb', 'eb');
    const b = await c.acquire('b', 'eb', f.fill, 2);
    assert.equal(c.bytesOnDisk, 5);
    const busy = await c.acquire('x', 'ex', filler('x', 'ex').fill, 1).then(() => 'served', (err: unknown) => err);
    assert.ok(busy instanceof CopiesBusyError && busy.retryAfterSec > 0, String(busy));
    const shared = await c.acquire('b', 'eb', f.fill, 2);
    assert.equal(f.fills, 1, 'a copy already on disk is shared, whatever the bound');
    for (const x of [a, b, shared]) x.release();
    c.close();
    assert.equal(c.bytesOnDisk, 0);
  });
});

describe('removeAbandonedCopies (copies-folder.ts)', () => {
  const startOf = (pid: number): string => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  };

  it("removes the folders of processes that are gone or whose pid another process has now; keeps this process's and a running one's", async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'parley-copies-sweep-'));
    try {
      // A process that ran and is gone (its pid, its real start time).
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      await once(child, 'spawn');
      const deadPid = child.pid!;
      const deadStart = startOf(deadPid);
      child.kill('SIGKILL');
      await once(child, 'exit');
      const parent = process.ppid;
      const folders = {
        gone: `parley-exports-${deadPid}-${deadStart}-aaaaaa`,
        reused: `parley-exports-${parent}-${Number(startOf(parent)) + 1}-bbbbbb`,
        running: `parley-exports-${parent}-${startOf(parent)}-cccccc`,
        own: `parley-exports-${process.pid}-${startOf(process.pid)}-dddddd`,
        other: 'parley-exports-notours',
      };
      for (const f of Object.values(folders)) {
        mkdirSync(join(tmp, f));
        writeFileSync(join(tmp, f, 'copy-1'), 'x');
      }
      const removed = await removeAbandonedCopies(silentLogger(), tmp);
      assert.deepEqual(removed.sort(), [folders.gone, folders.reused].sort());
      assert.deepEqual(readdirSync(tmp).sort(), [folders.running, folders.own, folders.other].sort());
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("a BucketCopies keeps its copies in one folder named after this process, which close() removes", async () => {
    const c = new BucketCopies();
    const a = await c.acquire('a', 'ea', filler('aaa', 'ea').fill);
    const b = await c.acquire('b', 'eb', filler('bbb', 'eb').fill);
    assert.equal(dirname(a.path), dirname(b.path));
    assert.match(basename(dirname(a.path)), new RegExp(`^parley-exports-${process.pid}-${startOf(process.pid)}-`));
    assert.deepEqual(await removeAbandonedCopies(silentLogger(), dirname(dirname(a.path))), [], 'a running process keeps its copies');
    a.release();
    b.release();
    c.close();
    assert.equal(existsSync(dirname(a.path)), false);
  });
});

// The recording I/O thread: calls of many files go in few batches, bytes land
// where they were asked to, failures come back as errors with their code.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RecordingIo } from '../../../src/recording/io/recording-io.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-recio-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('RecordingIo', () => {
  it('batches the calls of many files into few messages; every byte lands at its position', async () => {
    const io = new RecordingIo();
    const files = 40;
    const fds = await Promise.all(Array.from({ length: files }, (_, i) => io.create(join(dir, 'many', `f${i}.bin`))));
    assert.ok(io.batches <= 2, `${files} creates in ${io.batches} batch(es)`);
    for (let pass = 0; pass < 5; pass++) {
      const n = await Promise.all(fds.map((fd, i) => io.write(fd, Buffer.alloc(100, (i + pass) % 256), 0, 100, pass * 100)));
      assert.deepEqual(n, new Array(files).fill(100));
    }
    await Promise.all(fds.map((fd) => io.write(fd, Buffer.from('HEAD'), 1, 2, 0))); // 'EA' at 0
    await Promise.all(fds.map((fd) => io.sync(fd)));
    const hashes = await Promise.all(fds.map((fd) => io.sha256(fd)));
    await Promise.all(fds.map((fd) => io.close(fd)));
    assert.ok(io.batches < io.calls / 10, `${io.calls} calls in ${io.batches} batches`);
    for (let i = 0; i < files; i++) {
      const b = readFileSync(join(dir, 'many', `f${i}.bin`));
      assert.equal(b.length, 500);
      assert.equal(b.toString('latin1', 0, 2), 'EA');
      for (let pass = 0; pass < 5; pass++) assert.equal(b[pass * 100 + 50], (i + pass) % 256);
      assert.match(hashes[i]!, /^[0-9a-f]{64}$/);
    }
  });

  it('a failed call rejects with the error code; the thread goes on with the next ones', async () => {
    const io = new RecordingIo();
    const path = join(dir, 'once.bin');
    const fd = await io.create(path);
    await assert.rejects(io.create(path), { code: 'EEXIST' });
    await io.close(fd);
    await assert.rejects(io.write(fd, Buffer.from('x'), 0, 1, 0), { code: 'EBADF' });
    await io.writeAtomic(join(dir, 'sub', 'side.json'), '{"a":1}\n');
    assert.equal(readFileSync(join(dir, 'sub', 'side.json'), 'utf8'), '{"a":1}\n');
    await assert.rejects(io.writeAtomic(join(path, 'not-a-folder.json'), 'x'), { code: 'ENOTDIR' });
    assert.equal(existsSync(`${join(path, 'not-a-folder.json')}.tmp`), false);
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['side.json'], 'no temp file left');
  });
});

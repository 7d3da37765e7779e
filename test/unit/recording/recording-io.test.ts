// The recording I/O thread: calls of many files go in few batches, bytes land
// where they were asked to, failures come back as errors with their code.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

  it('uses the batch buffers again once the thread handed them back; overlapping batches keep their bytes', async () => {
    const io = new RecordingIo();
    const fd = await io.create(join(dir, 'reuse.bin'));
    const block = 4096;
    // One batch after another: the first buffer comes back with each answer and carries the next.
    for (let pass = 0; pass < 20; pass++) assert.equal(await io.write(fd, Buffer.alloc(block, pass), 0, block, pass * block), block);
    assert.equal(io.buffersMade, 1, 'one buffer for 20 batches in turn');
    assert.equal(io.buffersReused, 19);
    // Batches that overlap (a new one every ~3 ms, none awaited): a buffer still with the thread is
    // detached here (transferred), so each batch that finds none free gets a new one; every byte
    // must land as written.
    const writes: Promise<number>[] = [];
    for (let pass = 20; pass < 80; pass++) {
      writes.push(io.write(fd, Buffer.alloc(block, pass), 0, block, pass * block));
      if (pass % 3 === 0) await new Promise((r) => setTimeout(r, 3));
    }
    assert.deepEqual(await Promise.all(writes), new Array(60).fill(block));
    // A batch bigger than every buffer kept gets a bigger one (64 KiB, then powers of two).
    const big = Buffer.alloc(200_000, 0xab);
    assert.equal(await io.write(fd, big, 0, big.length, 80 * block), big.length);
    await io.close(fd);
    const b = readFileSync(join(dir, 'reuse.bin'));
    assert.equal(b.length, 80 * block + big.length);
    for (let pass = 0; pass < 80; pass++) assert.ok(b.subarray(pass * block, (pass + 1) * block).every((v) => v === pass), `block ${pass} intact`);
    assert.ok(b.subarray(80 * block).every((v) => v === 0xab));
    assert.ok(io.buffersMade >= 2 && io.buffersMade <= 8, `${io.buffersMade} buffers made for ${io.batches} batches`);
  });

  it('sha256(): the hash of the whole file, whether it ends inside, at or past a 256 KiB read', async () => {
    const io = new RecordingIo();
    const chunk = 256 * 1024;
    for (const size of [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 2 * chunk + 7]) {
      const path = join(dir, `hash-${size}.bin`);
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 31 + size) & 0xff;
      const fd = await io.create(path);
      if (size > 0) assert.equal(await io.write(fd, data, 0, size, 0), size);
      assert.equal(await io.sha256(fd), createHash('sha256').update(data).digest('hex'), `a file of ${size} bytes`);
      await io.close(fd);
    }
  });

  it('sizes(): the size of every file in one call (0 for a missing one), in one batch', async () => {
    const io = new RecordingIo();
    writeFileSync(join(dir, 'size-a.bin'), Buffer.alloc(1234));
    writeFileSync(join(dir, 'size-b.bin'), '');
    const before = io.batches;
    const sizes = await io.sizes([join(dir, 'size-a.bin'), join(dir, 'size-b.bin'), join(dir, 'size-missing.bin'), join(dir, 'size-a.bin', 'not-a-dir')]);
    assert.deepEqual(sizes, [1234, 0, 0, 0]);
    assert.equal(io.batches - before, 1);
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

  it('thread death: a file that existed before a lost create is not adopted (EEXIST); one the dead thread made is', async () => {
    const io = new RecordingIo();
    const old = join(dir, 'existed.bin');
    writeFileSync(old, 'old recording');
    const fresh = join(dir, 'fresh.bin');
    io.exitAfterNext('create');
    const [a, b] = await Promise.allSettled([io.create(old), io.create(fresh)]);
    assert.equal(io.threadDeaths, 1);
    assert.equal(a.status, 'rejected');
    assert.equal((a as PromiseRejectedResult).reason.code, 'EEXIST');
    assert.equal(b.status, 'fulfilled');
    const fd = (b as PromiseFulfilledResult<number>).value;
    const st = fstatSync(fd);
    assert.equal(st.ino, statSync(fresh).ino, 'the descriptor the dead thread opened, adopted');
    await io.write(fd, Buffer.from('new'), 0, 3, 0);
    await io.close(fd);
    assert.equal(readFileSync(fresh, 'utf8'), 'new');
    assert.equal(readFileSync(old, 'utf8'), 'old recording', 'untouched');
  });

  it('thread death: a lost close whose number was given to another file meanwhile leaves that file open', async () => {
    const io = new RecordingIo();
    const fd = await io.create(join(dir, 'closing.bin'));
    io.exitAfterNext('close');
    const closing = io.close(fd);
    while (io.threadDeaths === 0) await new Promise((r) => setTimeout(r, 1));
    // The dead thread did close it: the number goes to another file before the close is sent again.
    const strangers: number[] = [];
    while (!strangers.includes(fd) && strangers.length < 100) strangers.push(openSync(join(dir, `stranger${strangers.length}.bin`), 'w'));
    assert.ok(strangers.includes(fd), 'the number was given to a stranger');
    await closing;
    assert.doesNotThrow(() => fstatSync(fd), 'the stranger holding the number is still open');
    for (const x of strangers) closeSync(x);
  });

  it('thread death: a call every thread dies on fails after 3 sends', async () => {
    const io = new RecordingIo();
    const fd = await io.create(join(dir, 'doomed.bin'));
    const deaths = io.threadDeaths;
    io.exitAfterNext('sync');
    const syncing = io.sync(fd);
    for (let n = 1; n < 3; n++) {
      while (io.threadDeaths < deaths + n) await new Promise((r) => setTimeout(r, 1));
      io.exitAfterNext('sync');
    }
    await assert.rejects(syncing, /the recording I\/O thread exited \(code 70\)/);
    assert.equal(io.threadDeaths, deaths + 3);
    await io.close(fd);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { RawFile } from '../../../src/recording/raw-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-rawfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('RawFile (through the recording I/O thread)', () => {
  it('creates a new file (and its folder), writes and reads at positions, truncates, hashes', async () => {
    const path = join(dir, 'sub', 'a.bin');
    const f = await RawFile.createNew(path);
    assert.equal(await f.write(Buffer.from('hello world'), 0, 11, 0), 11);
    assert.equal(await f.write(Buffer.from('W'), 0, 1, 6), 1);
    assert.equal(readFileSync(path, 'utf8'), 'hello World');
    await f.truncate(5);
    await f.sync();
    assert.equal(await f.sha256(), createHash('sha256').update('hello').digest('hex'));
    await f.close();
    assert.equal(readFileSync(path, 'utf8'), 'hello');
  });

  it('never opens an existing file', async () => {
    const path = join(dir, 'b.bin');
    await (await RawFile.createNew(path)).close();
    await assert.rejects(RawFile.createNew(path), { code: 'EEXIST' });
  });

  it('close is idempotent; a call after it fails with EBADF and never reaches a reused descriptor', async () => {
    const f = await RawFile.createNew(join(dir, 'c.bin'));
    await f.close();
    await f.close();
    const other = await RawFile.createNew(join(dir, 'd.bin')); // may get the same descriptor number
    await assert.rejects(f.write(Buffer.from('x'), 0, 1, 0), { code: 'EBADF' });
    await assert.rejects(f.sync(), { code: 'EBADF' });
    await other.close();
    assert.equal(readFileSync(join(dir, 'd.bin')).length, 0, 'the other file was not written');
  });
});

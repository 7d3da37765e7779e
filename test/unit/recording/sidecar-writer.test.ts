import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SidecarWriter } from '../../../src/recording/sidecar-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-sidecar-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('SidecarWriter', () => {
  it('writes nothing synchronously; writes asked for meanwhile collapse and the newest wins', async () => {
    const errors: Error[] = [];
    const w = new SidecarWriter(join(dir, 'a.json'), { error: (e) => errors.push(e) });
    const value = { v: 1 };
    const first = w.write(value);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('a.')), [], 'nothing on disk in the same turn');
    value.v = 99; // serialized when asked for: a later change does not leak into that write
    const writes = [2, 3, 4, 5].map((v) => w.write({ v }));
    assert.equal(await first, true);
    assert.ok((await Promise.all(writes)).every(Boolean));
    assert.deepEqual(JSON.parse(readFileSync(w.path, 'utf8')), { v: 5 });
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('a.')), ['a.json'], 'no temp files left');
    assert.equal(w.busy, false);
    assert.deepEqual(errors, []);
  });

  it('reports a failed write once, resolves false, leaves no temp file, and says when writes work again', async () => {
    const errors: Error[] = [];
    const sub = join(dir, 'sub');
    let resumed = 0;
    const w = new SidecarWriter(join(sub, 'c.json'), { error: (e) => errors.push(e), resumed: () => resumed++ });
    assert.equal(await w.write({ v: 1 }), true, 'its folder is created');
    // A directory where the temp file must go makes the write fail the way a full disk does.
    rmSync(sub, { recursive: true });
    writeFileSync(sub, 'not a folder');
    assert.equal(await w.write({ v: 2 }), false);
    assert.equal(await w.write({ v: 3 }), false);
    assert.equal(errors.length, 1, 'reported once per outage');
    rmSync(sub);
    mkdirSync(sub);
    assert.equal(await w.write({ v: 4 }), true);
    assert.equal(resumed, 1, 'and its end said once');
    assert.deepEqual(readdirSync(sub), ['c.json'], 'no temp file left');
  });
});
